"""Benchmark: the array engine at 1e5, 1e6 and 1e7 agents, against the per-object Mesa way.

    python experiments/bench.py            # full: 1e5, 1e6, 1e7 agents + Mesa reference at 1e4
    python experiments/bench.py --quick    # smoke: 1e5 agents + Mesa reference at 1e3 over 90 days

Each size runs in its own process (so peak memory is that size's alone) with every mechanism on,
policy linkedin_actual, the default horizon. Reports agent-days per second, seconds per simulated
year, set-up time (sampling and graph) apart from stepping, and peak memory per agent (whole
process above the interpreter's baseline, the graph's part, and the state arrays' part). Writes a
JSON record (default outputs/bench/bench.json) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sim.run.compose import EVERY_MECHANISM_ON

ROOT = Path(__file__).resolve().parent.parent
FULL_SIZES = (100_000, 1_000_000, 10_000_000)
QUICK_SIZES = (100_000,)


def _config(agents: int, overrides: list[str]):
    from sim.model.config import validate_config
    from sim.run.compose import compose_raw

    return validate_config(compose_raw([f"population.agents={agents}", "progress=false", *overrides]))


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def measure_one(agents: int, engine: str, overrides: list[str]) -> dict:
    """Run one size in this process and return its measurements."""
    import numpy as np  # noqa: F401  (imported before the baseline is read)

    config = _config(agents, overrides)
    from sim.model.engine import ConsentModel
    from sim.verification.reference import ReferenceModel

    baseline = _peak_rss_bytes()
    cls = ConsentModel if engine == "array" else ReferenceModel
    t0 = time.perf_counter()
    model = cls(config)
    t1 = time.perf_counter()
    while model.running:
        model.step()
    t2 = time.perf_counter()
    peak = _peak_rss_bytes()
    n, days = model.pop.n, model.n_days
    record = {
        "engine": engine,
        "agents": n,
        "days": days,
        "setup_s": round(t1 - t0, 3),
        "step_s": round(t2 - t1, 3),
        "agent_days_per_s": n * days / (t2 - t1),
        "s_per_simulated_year": (t2 - t1) / days * 365.25,
        "peak_bytes_per_agent": (peak - baseline) / n,
        "graph_bytes_per_agent": model.graph.nbytes / n,
    }
    if engine == "array":
        pop_bytes = sum(v.nbytes for v in vars(model.pop).values() if hasattr(v, "nbytes"))
        record["state_bytes_per_agent"] = (pop_bytes + model.state.nbytes) / n
    return record


def _run_child(agents: int, engine: str, overrides: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--one", str(agents), "--engine", engine, *[f"--override={o}" for o in overrides]]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark of {engine} at {agents} agents failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(records: list[dict]) -> str:
    head = (
        f"{'engine':<10}{'agents':>12}{'setup s':>9}{'step s':>9}{'agent-days/s':>14}"
        f"{'s/sim-year':>11}{'peak B/agent':>13}{'graph B/agent':>14}{'state B/agent':>14}"
    )
    rows = [head, "-" * len(head)]
    for r in records:
        rows.append(
            f"{r['engine']:<10}{r['agents']:>12,}{r['setup_s']:>9.2f}{r['step_s']:>9.2f}{r['agent_days_per_s']:>14.3g}"
            f"{r['s_per_simulated_year']:>11.2f}{r['peak_bytes_per_agent']:>13.0f}{r['graph_bytes_per_agent']:>14.1f}"
            f"{r.get('state_bytes_per_agent', float('nan')):>14.1f}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smallest size only (CI smoke check)")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench" / "bench.json")
    parser.add_argument("--sizes", type=int, nargs="*", help="agent counts of the array engine")
    parser.add_argument("--reference-agents", type=int, help="agents of the Mesa per-object baseline")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="array", help=argparse.SUPPRESS)
    parser.add_argument("--override", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.one:
        print(json.dumps(measure_one(args.one, args.engine, args.override)))
        return 0

    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    ref_agents = args.reference_agents or (1_000 if args.quick else 10_000)
    ref_overrides = ["end=2024-11-29"] if args.quick else []  # 90 days in quick mode
    records = []
    for n in sizes:
        print(f"array engine, {n:,} agents ...", file=sys.stderr, flush=True)
        records.append(_run_child(n, "array", EVERY_MECHANISM_ON))
    print(f"Mesa per-object reference, {ref_agents:,} agents ...", file=sys.stderr, flush=True)
    records.append(_run_child(ref_agents, "reference", ref_overrides))  # the reference has the mechanisms off

    ref = records[-1]["agent_days_per_s"]
    result = {
        "when_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "mode": "quick" if args.quick else "full",
        "records": records,
        "speedup_vs_mesa_reference": {str(r["agents"]): r["agent_days_per_s"] / ref for r in records[:-1]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(table(records))
    for n, x in result["speedup_vs_mesa_reference"].items():
        print(f"array engine at {int(n):,} agents: {x:,.0f}x the agent-days per second of the Mesa reference")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
