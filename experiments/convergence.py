"""Sample-size study: how much the headline shares move between seeds, by agent count.

    python experiments/convergence.py                       # 5 sizes x 5 seeds (a few minutes)
    python experiments/convergence.py --agents 50000 200000 --seeds 3 --out /tmp/conv

Runs the default policy (linkedin_actual, default horizon) at several agent counts with several
seeds, and reports per region the standard deviation over seeds (in percentage points) of the
headline shares at the horizon: enrolled, opted out, consent gap (and aware). That spread is the
standard error of one run's number. Writes convergence.csv, convergence.json and convergence.png.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from sim.core.files import atomic_write

ROOT = Path(__file__).resolve().parent.parent
HEADLINE_SHARES = ("enrolled_share", "opted_out_share", "consent_gap_share", "aware_share")


def runs_at(agents: int, seeds: int, floor: int) -> pd.DataFrame:
    """The headline shares at the horizon of every seed's run at `agents` (through simulate_many)."""
    from sim.analysis.calibration import OUTPUT_REGIONS
    from sim.core.compose import compose_raw
    from sim.model.batch import simulate_many
    from sim.model.config import validate_config
    from sim.model.metrics import INDEX

    overrides = [f"population.agents={agents}", f"population.min_agents_per_region={floor}", "progress=false"]
    configs = [validate_config(compose_raw([*overrides, f"seed={seed}"])) for seed in range(seeds)]
    rows = [
        {"agents": agents, "seed": seed, "region": code, "metric": m, "value": records[-1, r, INDEX[m]]}
        for seed, records in enumerate(simulate_many(configs))
        for r, code in enumerate(OUTPUT_REGIONS)
        for m in HEADLINE_SHARES
    ]
    return pd.DataFrame(rows)


def figure(spread: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.reports.figures import series_style

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True, layout="constrained")
    for ax, metric in zip(axes, HEADLINE_SHARES[:3], strict=True):
        part = spread[spread.metric == metric].pivot(index="agents", columns="region", values="sd_points")
        regions = [r for r in part.columns if r != "ALL"]
        for i, region in enumerate(regions):
            ax.plot(part.index, part[region], marker="o", ms=3, label=region, **series_style(i))
        ax.plot(part.index, part["ALL"], marker="o", ms=3, color="black", lw=2.2, label="ALL")
        ax.axhline(1.0, color="0.3", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_title(metric.replace("_", " "))
        ax.set_xlabel("agents")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("sd over seeds (percentage points)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", title="region", frameon=False)
    fig.suptitle("Seed-to-seed spread of headline shares at the horizon (dashed: one point)")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, nargs="+", default=[50_000, 100_000, 200_000, 500_000, 1_000_000])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--floor-share", type=float, default=0.02, help="per-region floor as a share of agents")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "convergence")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    frames = []
    for agents in args.agents:
        print(f"{agents:,} agents, {args.seeds} seeds ...", file=sys.stderr, flush=True)
        frames.append(runs_at(agents, args.seeds, max(1, int(args.floor_share * agents))))
    runs = pd.concat(frames, ignore_index=True)
    spread = (
        runs.groupby(["agents", "region", "metric"])["value"]
        .agg(mean="mean", sd=lambda v: v.std(ddof=1))
        .reset_index()
        .assign(sd_points=lambda d: 100 * d["sd"])
    )
    atomic_write(args.out / "convergence.csv", lambda p: spread.to_csv(p, index=False))
    worst = spread.groupby(["agents", "metric"])["sd_points"].max().unstack("metric")
    summary = {
        "seeds": args.seeds,
        "floor_share": args.floor_share,
        "worst_region_sd_points": {str(a): row.to_dict() for a, row in worst.iterrows()},
    }
    (args.out / "convergence.json").write_text(json.dumps(summary, indent=2) + "\n")
    figure(spread, args.out / "convergence.png")
    print("largest seed-to-seed sd over regions (percentage points):")
    print(worst.round(2).to_string())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
