"""Sensitivity analysis with SALib: Morris screening of every uncertain behavioural parameter,
then Sobol indices of the most influential, for the headline outputs.

    python experiments/sensitivity.py --small    # a few minutes on 2 cores (4 Morris trajectories, Sobol N=16)
    python experiments/sensitivity.py            # the shipped analysis: 10,000 agents, 8 trajectories, Sobol N=4096

The shipped size is what the target needs: Sobol total indices' 95% half-widths at most
TARGET_HALF_WIDTH (they shrink as 1/sqrt(N); the report projects the N a smaller run would need),
at 10,000 agents, where the population draw's noise on the enrolled shares is under 0.02 (the
report measures it; 5,000 agents tripled it). The report states the run time, measured.

Parameters and ranges, policies, region groups and outputs: conf/calibration/sensitivity.yaml.
The analysis is `sim.analysis.morris_sobol.analyse` (common random numbers, seed noise); its
designs run through `sim.analysis.design_runner` (finished chunks kept in --store,
outputs/sensitivity/, so the same command run again after an interruption resumes where it
stopped; a damaged chunk is reported and run again). Runs go in parallel with joblib on all cores
(--jobs), or on a Ray cluster with --backend ray (the [ray] extra; RAY_ADDRESS names the cluster).
This script writes sim/data/sensitivity/ (morris.csv, sobol.csv, sensitivity.json: packaged, the
briefs read them), docs/sensitivity/sensitivity.png and docs/SENSITIVITY.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.sensitivity import NOISE_WARN, load_spec, posterior_ranges, posterior_record
from sim.core.compose import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent


def figure(morris: pd.DataFrame, sobol: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.reports.figures import TOL_MUTED

    fig, axes = plt.subplots(1, 2, figsize=(10, 5.5), layout="constrained")
    norm = morris.assign(rel=morris.mu_star / morris.groupby("output").mu_star.transform("max"))
    order = norm.groupby("parameter").rel.mean().sort_values()
    axes[0].barh(order.index, order.values, color=TOL_MUTED[0])
    axes[0].set_xlabel("Morris mu*, relative to the largest per output\n(mean over outputs)")
    axes[0].set_title("Screening: all uncertain parameters")
    top = sobol.groupby("parameter").ST.mean().sort_values()
    conf = sobol.groupby("parameter").ST_conf.mean().reindex(top.index)
    s1 = sobol.groupby("parameter").S1.mean().reindex(top.index)
    y = np.arange(len(top))
    axes[1].barh(y + 0.2, top.values, height=0.4, xerr=conf.values, color=TOL_MUTED[6], label="total (ST)")
    axes[1].barh(y - 0.2, s1.values, height=0.4, color=TOL_MUTED[2], label="first order (S1)")
    axes[1].set_yticks(y, top.index)
    axes[1].set_xlabel("Sobol index, mean over outputs\n(lines: 95% confidence)")
    axes[1].set_title("Sobol indices of the most influential")
    axes[1].legend(frameon=False)
    fig.savefig(path, dpi=150)
    plt.close(fig)


TARGET_HALF_WIDTH = 0.05  # issue 16: Sobol total indices known to +-0.05 (95%)


def _precision(meta: dict) -> str:
    """The widest ST confidence half-width, and the Saltelli N that would bring it to the target
    (half-widths shrink as 1/sqrt(N))."""
    worst = meta.get("max_st_conf")
    if worst is None:
        return "No Sobol index was estimated."
    if worst <= TARGET_HALF_WIDTH:
        return f"Precision: the widest 95% half-width of a total index is {worst:.3f} (target {TARGET_HALF_WIDTH})."
    needed = int(2 ** np.ceil(np.log2(meta["sobol_n"] * (worst / TARGET_HALF_WIDTH) ** 2)))
    runs = needed * (len(meta["sobol_parameters"]) + 2)
    per_set = _seconds_per_set(meta)
    pace = f", about {runs * per_set / 3600:.1f} hours at this run's pace" if per_set else ""
    return (
        f"Precision: the widest 95% half-width of a total index is {worst:.3f}, above the target of "
        f"{TARGET_HALF_WIDTH}; half-widths shrink as 1/sqrt(N), so N={needed:,} ({runs:,} parameter sets{pace}) "
        "would reach it."
    )


def _seconds_per_set(meta: dict) -> float | None:
    """Wall seconds per parameter set (all policies) at this run's pace, over the sets timed."""
    timed = meta.get("run_time", {})
    return timed["wall_seconds"] / timed["sets_timed"] if timed.get("sets_timed") else None


def _run_time(meta: dict) -> str:
    """What the whole design cost, measured: wall time summed over the invocations that ran it."""
    per_set, timed = _seconds_per_set(meta), meta.get("run_time", {})
    if per_set is None:
        return "Run time: not recorded (every set came from a store kept without timing)."
    total = meta["sets_total"]
    jobs = " or ".join(str(j) for j in timed["jobs"])
    measured = (
        f"{timed['wall_seconds'] / 3600:.2f} hours of wall time"
        if timed["sets_timed"] == total
        else f"about {total * per_set / 3600:.2f} hours of wall time at the pace of the "
        f"{timed['sets_timed']:,} sets timed (the others were stored without timing)"
    )
    return (
        f"Run time: the {total:,} parameter sets ({meta['morris_runs']:,} Morris, {meta['sobol_runs']:,} Sobol, "
        f"{total - meta['morris_runs'] - meta['sobol_runs']:,} for seed noise), each under {len(meta['policies'])} "
        f"policies at {meta['agents']:,} agents, took {measured} on {jobs} processes ({per_set:.2f} s per set), "
        "summed over the invocations that ran them."
    )


def _noise(meta: dict) -> list[str]:
    """What the population draw's noise does to the indices, and which outputs it makes unreliable."""
    shares = {o: v for o, v in meta.get("seed_noise", {}).items() if v is not None}
    if not shares:
        return []
    noisy = [f"{o} ({v:.2f})" for o, v in shares.items() if v > NOISE_WARN]
    return [
        f"Seed noise: every run shares one seed, so what a population draw does to all parameter sets alike "
        f"cannot move an index; what can is the share of an output's spread over parameter sets that another "
        f"draw does not reproduce (1 minus the correlation over {meta['seed_noise_sets']} parameter sets between "
        f"the design's seed and {meta['seed_noise_seeds']} others; column 'seed noise' below). An index may be "
        f"inflated by up to that share, and more agents shrink it. "
        + (f"Above {NOISE_WARN}, read the indices as rough: {'; '.join(noisy)}." if noisy
           else f"It is at most {max(shares.values()):.3f} for every output."),
        "",
    ]  # fmt: skip


def _posterior_named(meta: dict) -> str:
    post = meta.get("posterior")
    return f", the fit of {post['date']}, sha256 {post['csv_sha256'][:12]}" if post else ""


def report(morris: pd.DataFrame, sobol: pd.DataFrame, meta: dict) -> str:
    lines = [
        "# Sensitivity: what drives each headline number",
        "",
        "Generated by `experiments/sensitivity.py`; do not edit by hand. Parameters, ranges, policies,",
        "region groups and outputs: `conf/calibration/sensitivity.yaml`.",
        "",
        f"Design: Morris screening with {meta['morris_trajectories']} trajectories over "
        f"{meta['n_parameters']} parameters ({meta['morris_runs']} parameter sets), then Sobol indices "
        f"(Saltelli sampling, N={meta['sobol_n']}, {meta['sobol_runs']} parameter sets) over the "
        f"{len(meta['sobol_parameters'])} most influential; {meta['agents']:,} agents, seed {meta['seed']} for every "
        f"run (common random numbers), each parameter set run under every policy listed.",
        "",
        f"Ranges: {', '.join(meta['ranges_from_posterior']) or 'none'} over the calibrated posterior's weighted "
        f"1-99% range (sim/data/calibration/posterior.csv{_posterior_named(meta)}); the others over the hand-set "
        "ranges of the spec (not calibrated).",
        "",
        _precision(meta),
        "",
        _run_time(meta),
        "",
        *_noise(meta),
        "![sensitivity](sensitivity/sensitivity.png)",
        "",
        "## What drives what (Sobol total index, largest three per output)",
        "",
        "| output (policy / regions / metric) | main drivers (ST with 95% confidence half-width) | seed noise |",
        "|---|---|---|",
    ]
    for output, part in sobol.groupby("output", sort=False):
        top = part.sort_values("ST", ascending=False).head(3)
        drivers = "; ".join(f"{r.parameter} {r.ST:.2f} ± {r.ST_conf:.2f}" for r in top.itertuples())
        share = meta.get("seed_noise", {}).get(output)
        lines.append(f"| {output} | {drivers} | {'n/a' if share is None else f'{share:.3f}'} |")
    lines += [
        "",
        "## Morris screening (mu*, per output, top five)",
        "",
        "| output | top parameters (mu*) |",
        "|---|---|",
    ]
    for output, part in morris.groupby("output", sort=False):
        top = part.sort_values("mu_star", ascending=False).head(5)
        lines.append(f"| {output} | " + "; ".join(f"{r.parameter} {r.mu_star:.3g}" for r in top.itertuples()) + " |")
    lines += [
        "",
        "Shares are of eligible members (weighted over the group's regions); dataset outputs are",
        "cumulative counts at the horizon. A small mode's indices carry wide confidence intervals;",
        "the full mode narrows them.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from sim.analysis.calibration import shipped_raw
    from sim.analysis.morris_sobol import analyse
    from sim.core.provenance import software

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="a quick pass (minutes)")
    parser.add_argument("--agents", type=int)
    parser.add_argument("--trajectories", type=int)
    parser.add_argument("--sobol-n", type=int, help="Saltelli base sample size (a power of 2)")
    parser.add_argument("--top", type=int, default=8, help="parameters carried into the Sobol stage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--ranges",
        choices=["posterior", "spec"],
        default="posterior",
        help="calibrated parameters over their posterior's 1-99%% range (default) or the spec's",
    )
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument(
        "--backend", default="loky", choices=["loky", "ray"], help="joblib backend: loky here, ray on a Ray cluster"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="SENSITIVITY.md and its figure")
    parser.add_argument("--store", type=Path, default=ROOT / "outputs" / "sensitivity",
                        help="finished chunks, kept so that a run cut off resumes ('none': keep nothing)")  # fmt: skip
    parser.add_argument("--data-out", type=Path, default=DATA_DIR / "sensitivity",
                        help="morris.csv, sobol.csv, sensitivity.json (packaged: briefs read them)")  # fmt: skip
    args = parser.parse_args(argv)
    store = None if str(args.store) == "none" else args.store
    agents = args.agents or 10_000  # seed noise on the enrolled shares < 0.02 here (docs/SENSITIVITY.md)
    trajectories = args.trajectories or (4 if args.small else 8)  # screening only: ranks 20 parameters
    sobol_n = args.sobol_n or (16 if args.small else 4096)  # ST half-widths <= TARGET_HALF_WIDTH

    started = time.perf_counter()
    spec = load_spec()
    from_posterior, over_posterior = [], None
    if args.ranges == "posterior":  # the calibrated parameters vary over what the evidence leaves open
        from sim.analysis.posterior import load_posterior

        posterior = load_posterior()
        from_posterior = posterior_ranges(spec["parameters"], posterior)
        over_posterior = posterior_record(posterior)
    bases = {policy: shipped_raw([f"policy={policy}"]) for policy in spec["policies"]}
    morris, sobol, design = analyse(spec, bases, agents, trajectories, sobol_n, args.top, args.seed,
                                    args.jobs, args.backend, store)  # fmt: skip

    data_dir = args.data_out
    data_dir.mkdir(parents=True, exist_ok=True)
    (args.out / "sensitivity").mkdir(parents=True, exist_ok=True)
    morris.to_csv(data_dir / "morris.csv", index=False)
    sobol.to_csv(data_dir / "sobol.csv", index=False)
    meta = {
        "command": " ".join(["experiments/sensitivity.py", *(argv if argv is not None else sys.argv[1:])]),
        **design,
        "ranges_from_posterior": from_posterior,
        "posterior": over_posterior,  # which fit the ranges came from: a brief says if it is not the shipped one
        "seconds": round(time.perf_counter() - started, 1),  # this invocation's wall time
        "software": {k: v for k, v in software().items() if k != "command"},  # the code's commit, packages
    }
    (data_dir / "sensitivity.json").write_text(json.dumps(meta, indent=2) + "\n")
    figure(morris, sobol, args.out / "sensitivity" / "sensitivity.png")
    (args.out / "SENSITIVITY.md").write_text(report(morris, sobol, meta), encoding="utf-8")
    print(f"wrote {args.out / 'SENSITIVITY.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
