"""Write docs/CALIBRATION.md from the shipped posterior: what the evidence pins and what it leaves open.

    python experiments/calibration_report.py                 # 30 posterior draws at the calibration's agents
    python experiments/calibration_report.py --draws 60

Reads sim/data/calibration/posterior.{csv,json} (written by experiments/calibrate.py) and writes:
prior against posterior per parameter (median and 90% interval, and whether the targets identify
it: the posterior's 90% interval against the prior's), the pairwise posterior (a corner figure,
docs/calibration/corner.png), a posterior predictive check per target (the target value and its
measurement error against the model's values over posterior draws, each at its own seed: a table
and docs/calibration/predictive.png), and what remains assumption rather than data (every default
in conf/ whose source says so). No number in the report is typed by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from sim.analysis.calibration import evaluate_many, load_targets, shipped_raw, with_values
from sim.analysis.posterior import (
    POSTERIOR_DIR,
    PREDICTIVE_FILE,
    Posterior,
    load_posterior,
    posterior_sha256,
    weighted_quantile,
)
from sim.core.files import write_json
from sim.reports.parameter_table import parameters

ROOT = Path(__file__).resolve().parent.parent
IDENTIFIED, WEAKLY = 0.5, 0.85  # posterior 90% width / prior 90% width below these: identified, weakly


def prior_interval(prior: dict, q: float) -> float:
    ((kind, (low, high)),) = prior.items()
    if kind == "loguniform":
        return float(np.exp(np.log(low) + q * (np.log(high) - np.log(low))))
    return float(low + q * (high - low))


def identification(post: Posterior) -> list[dict]:
    rows = []
    for j, p in enumerate(post.parameters):
        x, w = post.values[:, j], post.weights
        q05, q50, q95 = (weighted_quantile(x, w, q) for q in (0.05, 0.5, 0.95))
        p05, p50, p95 = (prior_interval(p["prior"], q) for q in (0.05, 0.5, 0.95))
        if "loguniform" in p["prior"]:  # widths on the prior's own scale
            ratio = (np.log(q95) - np.log(q05)) / (np.log(p95) - np.log(p05))
        else:
            ratio = (q95 - q05) / (p95 - p05)
        verdict = "identified" if ratio < IDENTIFIED else "weakly identified" if ratio < WEAKLY else "not identified"
        rows.append({"name": p["name"], "prior": (p05, p50, p95), "posterior": (q05, q50, q95), "ratio": ratio,
                     "verdict": verdict, "reason": p["reason"]})  # fmt: skip
    return rows


def predictive(post: Posterior, draws: int, agents: int) -> dict[str, np.ndarray]:
    targets, params, nuisance = load_targets()
    base = shipped_raw()
    sets = [(with_values(base, params, values), k, values) for k, values in enumerate(post.draws(draws, seed=2))]
    print(f"  predictive check: {draws} posterior draws, in batches", file=sys.stderr, flush=True)
    runs = evaluate_many(sets, targets, agents, nuisance)
    return {t.id: np.array([r[t.id] for r in runs]) for t in targets}


def seed_noise(post: Posterior, seeds: int, agents: int) -> dict[str, float]:
    """Each target's seed-to-seed sd at the posterior median: the simulation noise the calibration's
    agent count leaves, to set against the targets' measurement errors."""
    targets, params, nuisance = load_targets()
    median = post.median()
    raw = with_values(shipped_raw(), params, median)
    runs = evaluate_many([(raw, 1_000 + s, median) for s in range(seeds)], targets, agents, nuisance)
    return {t.id: float(np.std([r[t.id] for r in runs], ddof=1)) for t in targets}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def corner(post: Posterior, path: Path) -> None:
    plt = _plt()
    n = len(post.names)
    fig, axes = plt.subplots(n, n, figsize=(1.25 * n, 1.25 * n), layout="constrained")
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            ax.set_xticks([]), ax.set_yticks([])
            if j > i:
                ax.axis("off")
            elif i == j:
                ax.hist(post.values[:, i], bins=20, weights=post.weights, color="#332288")
            else:
                ax.scatter(post.values[:, j], post.values[:, i], s=2, alpha=0.4, c="#332288", lw=0)
            if i == n - 1:
                ax.set_xlabel(post.names[j], fontsize=5, rotation=30)
            if j == 0:
                ax.set_ylabel(post.names[i], fontsize=5, rotation=30, ha="right")
    fig.suptitle("Posterior: marginals (diagonal) and pairs (weighted particles, ABC-SMC)", fontsize=9)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def predictive_figure(targets, values: dict, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(targets) + 1.2), layout="constrained")
    for i, t in enumerate(targets):
        z = (values[t.id] - t.value) / t.tolerance
        ax.barh(i, 4, left=-2, color="0.9", height=0.6)
        ax.plot(z, np.full(z.size, i), "o", ms=3, color="#332288", alpha=0.6)
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(range(len(targets)), [f"{t.id} ({t.anchor})" for t in targets], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("(model - target) / measurement error\ngrey: within 2 errors; dots: one per posterior draw")
    ax.set_title("Posterior predictive check", fontsize=10)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def report(post: Posterior, rows: list[dict], targets, values: dict, draws: int, agents: int, noise: dict) -> str:
    prov = post.provenance
    lines = [
        "# Calibration",
        "",
        "Generated by `experiments/calibration_report.py` from the shipped posterior; do not edit by hand.",
        "The targets, their scenarios, measurement errors and the priors (with reasons) are data:",
        "`conf/calibration/targets.yaml`. The posterior is `experiments/calibrate.py`:",
        f"{prov['method']}; {prov['library']}; {prov['generations']} generation(s) of {len(post.weights)} "
        f"particles (effective sample size {post.effective_sample_size():,.0f}), "
        f"{prov['total_simulations']:,} simulated parameter sets in {prov['wall_seconds']:,.0f} s on "
        f"{prov['cores']} cores at {prov['agents']:,} agents per scenario run (median "
        f"{prov['median_seconds_per_parameter_set']:.2f} s per parameter set, all scenarios); epsilon schedule "
        f"{', '.join(f'{e:.3g}' for e in prov['epsilon_schedule'])}; commit `{prov['git_commit'][:10]}`, "
        f"{prov['date']}; command `{prov['command']}`.",
        "",
        "## Prior and posterior per parameter",
        "",
        "Median and 90% interval. *Identified* when the posterior's 90% interval is under "
        f"{IDENTIFIED:.0%} of the prior's (on the prior's scale), *weakly* under {WEAKLY:.0%}, else *not identified*.",
        "The shipped defaults are the posterior medians (scenario-only parameters excepted).",
        "",
        "| parameter | prior median (90%) | posterior median (90%) | width ratio | the targets |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        (a, b, c), (d, e, f) = r["prior"], r["posterior"]
        lines.append(
            f"| {r['name']} | {b:.3g} ({a:.3g}-{c:.3g}) | {e:.3g} ({d:.3g}-{f:.3g}) "
            f"| {r['ratio']:.2f} | {r['verdict']} |"
        )
    named = {v: [r["name"] for r in rows if r["verdict"] == v] for v in ("identified", "weakly identified")}
    loose = [r["name"] for r in rows if r["verdict"] == "not identified"]
    lines += [
        "",
        f"**What the evidence pins:** {', '.join(named['identified']) or 'no parameter'}"
        f"{'; weakly: ' + ', '.join(named['weakly identified']) if named['weakly identified'] else ''}. "
        f"**What it leaves open:** {', '.join(loose) or 'nothing'}: for these the posterior is close to the "
        "prior, so their uncertainty is carried into every result by posterior ensembles "
        "(`uncertainty=posterior`), not resolved. Pairs that trade off against each other show as ridges in the "
        "corner figure.",
        "",
        "![corner](calibration/corner.png)",
        "",
        f"## Posterior predictive check ({draws} posterior draws, {agents:,} agents, each draw at its own seed)",
        "",
        f"`seed sd` is the model's seed-to-seed standard deviation at the posterior median and {agents:,} agents "
        "(the simulation noise each parameter set was judged with); where it exceeds the measurement error, the "
        "agent count, not the evidence, limits how tightly that target can constrain the posterior (ABC absorbs "
        "the noise into a wider posterior rather than a biased one).",
        "",
        "| target | anchor | value | measurement error | seed sd | model median | model 5-95% over draws "
        "| covered (within 2 errors) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in targets:
        v = values[t.id]
        lo, hi = np.quantile(v, [0.05, 0.95])
        covered = v.min() - 2 * t.tolerance <= t.value <= v.max() + 2 * t.tolerance
        lines.append(
            f"| {t.id} | {t.anchor} | {t.value:g} | {t.tolerance:g} | {noise[t.id]:.2g} | {np.median(v):.4g} "
            f"| {lo:.4g}-{hi:.4g} | "
            f"{'yes' if covered else '**no**'} |"
        )
    lines += ["", "![predictive](calibration/predictive.png)", "", "Sources and scenarios:", ""]
    for t in targets:
        setting = "sets " + ", ".join(f"`{k}`" for k in t.scenario) if t.scenario else "the shipped defaults"
        lines.append(f"- **{t.id}**: {t.source}. Scenario: {setting}; measures `{t.measure}`.")
    lines += ["", "Priors and their reasons:", ""]
    lines += [f"- **{r['name']}**: {r['reason']}." for r in rows]
    lines += [
        "",
        "## What is assumption rather than data",
        "",
        "Defaults in `conf/` whose source is an assumption (neither an anchor nor calibrated):",
        "",
    ]
    for p in parameters():
        source = p.source.lower()
        if "assumption" in source and "posterior median" not in source:
            lines.append(f"- `{p.key}` = {p.value}: {p.source}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=30, help="posterior draws for the predictive check")
    parser.add_argument("--agents", type=int, default=None, help="default: the calibration's own")
    parser.add_argument("--noise-seeds", type=int, default=8, help="seeds for the noise at the posterior median")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "CALIBRATION.md")
    parser.add_argument("--posterior-dir", type=Path, default=POSTERIOR_DIR)
    args = parser.parse_args(argv)
    post = load_posterior(args.posterior_dir)
    agents = args.agents or post.provenance["agents"]
    targets, _, _ = load_targets()
    figures = args.out.parent / "calibration"
    figures.mkdir(parents=True, exist_ok=True)
    rows = identification(post)
    values = predictive(post, args.draws, agents)
    noise = seed_noise(post, args.noise_seeds, agents)
    write_json(args.posterior_dir / PREDICTIVE_FILE, {  # the brief's calibration table reads it
        "draws": args.draws, "agents": agents, "posterior_sha256": posterior_sha256(args.posterior_dir),
        "not_identified": [r["name"] for r in rows if r["verdict"] == "not identified"],
        "values": {k: v.tolist() for k, v in values.items()},
        "seed_sd_at_median": noise, "noise_seeds": args.noise_seeds,
    })  # fmt: skip
    corner(post, figures / "corner.png")
    predictive_figure(targets, values, figures / "predictive.png")
    args.out.write_text(report(post, rows, targets, values, args.draws, agents, noise), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
