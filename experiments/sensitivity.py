"""Sensitivity analysis with SALib: Morris screening of every uncertain behavioural parameter,
then Sobol indices of the most influential, for the headline outputs.

    python experiments/sensitivity.py --small    # a few minutes on 2 cores (4 Morris trajectories, Sobol N=16)
    python experiments/sensitivity.py            # the shipped analysis: 10,000 agents, 8 trajectories, Sobol N=4096

The shipped size is what the target needs: Sobol total indices' 95% half-widths at most
TARGET_HALF_WIDTH (they shrink as 1/sqrt(N); the report projects the N a smaller run would need),
at 10,000 agents, where the population draw's noise on the enrolled shares is under 0.02 (the
report measures it; 5,000 agents tripled it). The report states the run time, measured.

Parameters and ranges, policies, region groups and outputs: conf/calibration/sensitivity.yaml.
Every run uses the same seed (common random numbers), so output differences are the parameters'
effect; the report measures, per output, what another seed's population would change (seed noise).
Finished chunks of parameter sets are kept in --store (outputs/sensitivity/), so the same command
run again after an interruption resumes where it stopped. Runs go in parallel with joblib on all
cores (--jobs), or on a Ray cluster with --backend ray (the [ray] extra; RAY_ADDRESS names the
cluster). Writes sim/data/sensitivity/ (morris.csv, sobol.csv, sensitivity.json: packaged, the
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
from joblib import Parallel, delayed, effective_n_jobs, parallel_backend

from sim.analysis.sensitivity import (
    NOISE_SEEDS,
    NOISE_SETS,
    NOISE_WARN,
    load_spec,
    output_names,
    posterior_ranges,
    seed_noise,
)
from sim.model.batch import BATCH_AGENTS
from sim.run.compose import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent
TIMING = "timing.jsonl"  # in a design's store folder: one line per finished chunk, so a resumed run's time adds up


def run_design(stage, X, names, parameters, bases, spec, agents, seed, jobs, backend="loky", store=None):
    """The outputs of every parameter set of the design X (one row per set, spec order), how many
    of the sets were run here (the others came from the store), and the design's run time
    (`design_time`: over every invocation that ran its chunks when there is a store).

    Sets go in chunks, each run as batches (sim.model.batch). With `store` (a folder), each
    finished chunk is saved there under a key of everything its outputs depend on, so a run cut
    off resumes where it stopped, and a changed design or code never reuses stale outputs."""
    from sim.analysis.sensitivity import run_chunk

    if backend == "ray":  # a Ray cluster (RAY_ADDRESS, or a local Ray): the [ray] extra
        from ray.util.joblib import register_ray

        register_ray()
    rows = [dict(zip(names, x, strict=True)) for x in X]
    # at least one chunk per job, and no more sets in a chunk than a batch of BATCH_AGENTS holds
    per_chunk = max(BATCH_AGENTS // (agents * len(spec["policies"])), 1)
    n_chunks = max(effective_n_jobs(jobs), -(-len(rows) // per_chunk))
    chunks = [list(c) for c in np.array_split(np.array(rows, dtype=object), n_chunks) if len(c)]
    folder = None
    if store is not None:
        folder = Path(store) / f"{stage}-{design_key(X, names, bases, spec, agents, seed, len(chunks))}"
        folder.mkdir(parents=True, exist_ok=True)
    done = {}
    for i in range(len(chunks)):
        if folder is not None and (folder / f"{i:05d}.npy").exists():
            done[i] = np.load(folder / f"{i:05d}.npy")
    if done:
        print(f"  {stage}: resuming, {len(done)} of {len(chunks)} chunks already in {folder}", file=sys.stderr)
    todo = [i for i in range(len(chunks)) if i not in done]
    calls = [delayed(run_chunk)(i, bases, parameters, chunks[i], spec, agents, seed) for i in todo]
    n_jobs = effective_n_jobs(jobs)
    t0 = last = time.perf_counter()
    reported = -1
    with parallel_backend(backend, n_jobs=jobs):
        for i, outputs in _as_finished(calls, backend, n_jobs):
            now = time.perf_counter()
            done[i] = np.array(outputs, dtype=np.float64)
            if folder is not None:  # written whole, then renamed: a cut-off write leaves no chunk
                np.save(folder / f"{i:05d}.tmp.npy", done[i])
                (folder / f"{i:05d}.tmp.npy").replace(folder / f"{i:05d}.npy")
                # wall time since the previous chunk finished: over a whole invocation, its wall time
                timing = {"chunk": i, "sets": len(chunks[i]), "wall_s": round(now - last, 3), "jobs": n_jobs}
                with open(folder / TIMING, "a", encoding="utf-8") as f:
                    f.write(json.dumps(timing) + "\n")
            last = now
            percent = 100 * len(done) // len(chunks)
            if percent // 5 > reported:  # progress every 5%
                reported = percent // 5
                elapsed = time.perf_counter() - t0
                new = len(done) - (len(chunks) - len(todo))
                left = elapsed / max(new, 1) * (len(chunks) - len(done))
                print(f"  {stage}: {percent}% of {len(rows)} sets, {elapsed:.0f} s, about {left:.0f} s left",
                      file=sys.stderr, flush=True)  # fmt: skip
    ran = sum(len(chunks[i]) for i in todo)
    print(f"  {stage}: {ran} of {len(rows)} sets run in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    timed = design_time(folder) if folder is not None else {"sets": ran, "wall_s": last - t0, "jobs": [n_jobs]}
    return np.concatenate([done[i] for i in range(len(chunks))]), ran, timed


def design_time(folder: Path) -> dict:
    """The wall time its stored chunks took, summed over the invocations that ran them: the sets
    timed, their wall seconds and the process counts used. A chunk stored without a timing line
    (an older store) is left out of both, so the pace stays right; a cut-off last line is skipped."""
    per_chunk = {}
    path = folder / TIMING
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if (folder / f"{record['chunk']:05d}.npy").exists():
            per_chunk[record["chunk"]] = record  # the last run of a chunk is the one stored
    records = per_chunk.values()
    return {
        "sets": sum(r["sets"] for r in records),
        "wall_s": sum(r["wall_s"] for r in records),
        "jobs": sorted({r["jobs"] for r in records}),
    }


def _as_finished(calls, backend, n_jobs):
    """(chunk index, outputs) as chunks finish. Ray's joblib backend cannot hand results back one by
    one, so there they come in waves of a few chunks per worker."""
    if backend != "ray":
        yield from Parallel(return_as="generator_unordered")(calls)
        return
    wave = 4 * n_jobs
    for start in range(0, len(calls), wave):
        yield from Parallel()(calls[start : start + wave])


def design_key(X, names, bases, spec, agents, seed, n_chunks) -> str:
    """A hash of what a design's outputs depend on: the sample, the configs, the spec, the size,
    the seed, the chunking and the code that computes them (the modules, configs and data of
    `sim.model`, `sim.run`, `sim.analysis`, `sim/conf` and `sim/data`; not the briefs, reports or
    explorer, whose changes leave the outputs as they are)."""
    import hashlib

    import sim

    digest = hashlib.sha256()
    settings = {"names": names, "bases": bases, "spec": spec, "agents": agents, "seed": seed, "chunks": n_chunks}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    package = Path(sim.__file__).parent
    for part in ("model", "run", "analysis", "conf", "data"):
        for path in sorted((package / part).rglob("*")):
            if path.suffix in {".py", ".csv", ".yaml", ".json"} and path.parent != package / "data" / "sensitivity":
                digest.update(str(path.relative_to(package)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


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
        "1-99% range (sim/data/calibration/posterior.csv); the others over the hand-set ranges of the spec "
        "(not calibrated).",
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
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    from sim.analysis.calibration import shipped_raw
    from sim.run.folder import software

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
    parameters = spec["parameters"]
    from_posterior = []
    if args.ranges == "posterior":  # the calibrated parameters vary over what the evidence leaves open
        from sim.analysis.posterior import load_posterior

        from_posterior = posterior_ranges(parameters, load_posterior())
    names = [p["name"] for p in parameters]
    bases = {policy: shipped_raw([f"policy={policy}"]) for policy in spec["policies"]}
    outputs = output_names(spec)

    print(f"Morris: {len(names)} parameters, {trajectories} trajectories", file=sys.stderr)
    problem = {"num_vars": len(names), "names": names, "bounds": [p["bounds"] for p in parameters]}
    X = morris_sample.sample(problem, N=trajectories, num_levels=4, seed=args.seed)
    designs = []  # per design run: its sets, those this invocation ran (the rest came from the store), its timing

    def design(stage, X_, parameters_, seed):
        Y_, ran, timed = run_design(stage, X_, [p["name"] for p in parameters_], parameters_, bases, spec, agents,
                                    seed, args.jobs, args.backend, store)  # fmt: skip
        designs.append({"sets": len(X_), "ran": ran, "timed": timed})
        return Y_

    Y = design("morris", X, parameters, args.seed)
    rows = []
    for k, output in enumerate(outputs):
        res = morris_analyze.analyze(problem, X, Y[:, k], num_levels=4, seed=args.seed)
        for i, name in enumerate(names):
            rows.append(
                {
                    "output": output,
                    "parameter": name,
                    "mu_star": res["mu_star"][i],
                    "sigma": res["sigma"][i],
                    "mu_star_conf": res["mu_star_conf"][i],
                }
            )
    morris = pd.DataFrame(rows)
    relative = morris.assign(rel=morris.mu_star / morris.groupby("output").mu_star.transform("max").replace(0, 1))
    # The most influential on any output (not on average): a parameter that drives only the face
    # images must reach the Sobol stage too.
    top = relative.groupby("parameter").rel.max().sort_values(ascending=False).head(args.top).index.tolist()

    print(f"Sobol over {top}, N={sobol_n}", file=sys.stderr)
    chosen = [p for p in parameters if p["name"] in top]
    problem2 = {"num_vars": len(chosen), "names": [p["name"] for p in chosen], "bounds": [p["bounds"] for p in chosen]}
    X2 = sobol_sample.sample(problem2, sobol_n, calc_second_order=False, seed=args.seed)
    Y2 = design("sobol", X2, chosen, args.seed)

    def other_seed(X_, offset):
        return design(f"noise-seed{args.seed + offset}", X_, chosen, args.seed + offset)

    print(f"Seed noise: {min(NOISE_SETS, sobol_n)} sets under {NOISE_SEEDS} other seeds", file=sys.stderr)
    noise = dict(zip(outputs, seed_noise(X2, Y2, len(chosen), other_seed), strict=True))
    rows = []
    for k, output in enumerate(outputs):
        if np.ptp(Y2[:, k]) == 0:  # an output the parameters do not move (e.g. nothing enrolled)
            continue
        # SALib's Sobol analysis ignores a seed of 0 (`if seed:`) and bootstraps from numpy's global
        # state, so the confidence intervals would differ between identical runs: never pass it 0
        res = sobol_analyze.analyze(problem2, Y2[:, k], calc_second_order=False, seed=args.seed + 1)
        for i, name in enumerate(problem2["names"]):
            rows.append(
                {
                    "output": output,
                    "parameter": name,
                    "S1": res["S1"][i],
                    "S1_conf": res["S1_conf"][i],
                    "ST": res["ST"][i],
                    "ST_conf": res["ST_conf"][i],
                    "seed_noise": noise[output],
                }
            )
    sobol = pd.DataFrame(rows)

    data_dir = args.data_out
    data_dir.mkdir(parents=True, exist_ok=True)
    (args.out / "sensitivity").mkdir(parents=True, exist_ok=True)
    morris.to_csv(data_dir / "morris.csv", index=False)
    sobol.to_csv(data_dir / "sobol.csv", index=False)
    meta = {
        "command": " ".join(["experiments/sensitivity.py", *(argv if argv is not None else sys.argv[1:])]),
        "agents": agents,
        "seed": args.seed,
        "n_parameters": len(names),
        "morris_trajectories": trajectories,
        "morris_runs": int(len(X)),
        "sobol_n": sobol_n,
        "sobol_runs": int(len(X2)),
        "sobol_parameters": top,
        "policies": spec["policies"],
        "ranges_from_posterior": from_posterior,
        "ranges": {p["name"]: [float(b) for b in p["bounds"]] for p in parameters},
        "max_st_conf": float(sobol["ST_conf"].max()) if len(sobol) else None,
        "seed_noise": {o: (None if np.isnan(v) else round(float(v), 4)) for o, v in noise.items()},
        "seed_noise_sets": min(NOISE_SETS, sobol_n),
        "seed_noise_seeds": NOISE_SEEDS,
        "seconds": round(time.perf_counter() - started, 1),  # this invocation's wall time
        "sets_run": int(sum(d["ran"] for d in designs)),  # by this invocation; the rest came from the store
        "sets_total": int(sum(d["sets"] for d in designs)),
        # the designs' wall time over every invocation that ran them (timed per stored chunk)
        "run_time": {
            "sets_timed": int(sum(d["timed"]["sets"] for d in designs)),
            "wall_seconds": round(sum(d["timed"]["wall_s"] for d in designs), 1),
            "jobs": sorted({j for d in designs for j in d["timed"]["jobs"]}),
        },
        "software": {k: v for k, v in software().items() if k != "command"},  # the code's commit, packages
    }
    (data_dir / "sensitivity.json").write_text(json.dumps(meta, indent=2) + "\n")
    figure(morris, sobol, args.out / "sensitivity" / "sensitivity.png")
    (args.out / "SENSITIVITY.md").write_text(report(morris, sobol, meta), encoding="utf-8")
    print(f"wrote {args.out / 'SENSITIVITY.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
