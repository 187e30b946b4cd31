"""Benchmark: the array engine at 1e5, 1e6 and 1e7 agents, against the per-object Mesa way.

    python experiments/bench.py            # full: 1e5, 1e6, 1e7 agents + Mesa reference at 1e4
    python experiments/bench.py --quick    # smoke: 1e5 agents + Mesa reference at 1e3 over 90 days

Each size runs in its own process (so peak memory is that size's alone) with every mechanism on,
policy linkedin_actual, the default horizon. Reports agent-days per second, seconds per simulated
year, set-up time (sampling and graph) apart from stepping, peak memory per agent (whole
process above the interpreter's baseline, the graph's part, and the state arrays' part) and the
share of stepping time in each step phase (`sim.model.engine.time_phases`). Besides, in one process:
seconds per simulation at 20,000 agents (built and run, 365 and 852 days, mechanisms as shipped and
all on) and simulations per hour from them, the fixed cost per simulated day (a 1,000-agent run,
whose agents' own work is negligible), and the machine's memory bandwidth and plain generator rate
(numpy PCG64) beside the keyed draws' rate, so runs on different machines can be compared.
Batches (sim.model.batch): simulations per hour at 20,000 agents over 365 and 852 days with every
mechanism on, alone and as one batch of `--batch` simulations (different seeds) in one process,
and for the whole machine: one batch per core, run at the same time in separate processes (the sum
of their rates, each timed from its configs composed to its batch done).
Writes a JSON record (default outputs/bench/bench.json) and prints tables.
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
    from sim.model.engine import ConsentModel, time_phases
    from sim.verification.reference import ReferenceModel

    baseline = _peak_rss_bytes()
    cls = ConsentModel if engine == "array" else ReferenceModel
    t0 = time.perf_counter()
    model = cls(config)
    t1 = time.perf_counter()
    phases = time_phases(model) if engine == "array" else None
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
        record["phase_share"] = {name.strip("_"): sec / (t2 - t1) for name, sec in phases.items()}
    return record


def machine_rates() -> dict:
    """Memory copy bandwidth, numpy PCG64 uniforms per second and the model's keyed uniforms per second."""
    import numpy as np

    from sim.model.random_streams import Streams

    def best(fn, repeats=5):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    big = np.ones(32_000_000)  # 256 MB: far beyond the caches
    copy_s = best(lambda: big.copy())
    n = 4_000_000
    rng, streams, agents = np.random.default_rng(0), Streams(0), np.arange(n)
    return {
        "memory_copy_gb_per_s": 2 * big.nbytes / copy_s / 1e9,  # read + write
        "pcg64_uniforms_per_s": n / best(lambda: rng.random(n)),
        "keyed_uniforms_per_s": n / best(lambda: streams.uniform("bench", agents, 0)),
    }


def per_simulation(agents: int, days_list: tuple[int, ...], repeats: int) -> list[dict]:
    """Seconds per simulation built and run in this process (best of `repeats`), mechanisms as
    shipped and all on, and the simulations per hour one process gives at that pace."""
    import datetime as dt

    from sim.model.engine import ConsentModel

    out = []
    for mechanisms, extra in (("shipped", []), ("all on", list(EVERY_MECHANISM_ON))):
        for days in days_list:
            end = dt.date(2024, 9, 1) + dt.timedelta(days=days - 1)
            config = _config(agents, [f"end={end}", *extra])
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                model = ConsentModel(config)
                while model.running:
                    model.step()
                best = min(best, time.perf_counter() - t0)
            out.append(
                {
                    "agents": agents,
                    "days": model.n_days,
                    "mechanisms": mechanisms,
                    "s_per_sim": best,
                    "ms_per_day": best / model.n_days * 1e3,
                    "sims_per_hour": 3600 / best,
                }
            )
    return out


def _days_config(agents: int, days: int, seed: int = 0):
    import datetime as dt

    end = dt.date(2024, 9, 1) + dt.timedelta(days=days - 1)
    return _config(agents, [f"end={end}", f"seed={seed}", *EVERY_MECHANISM_ON])


def batch_rate(agents: int, days: int, size: int) -> dict:
    """Seconds per simulation of one batch of `size` simulations (seeds 0..size-1) in this process,
    built and run (the configs are composed before the clock starts)."""
    from sim.model.batch import run_batch

    configs = [_days_config(agents, days, seed) for seed in range(size)]
    t0 = time.perf_counter()
    run_batch(configs)
    wall = time.perf_counter() - t0
    return {"agents": agents, "days": days, "batch": size, "wall_s": wall, "s_per_sim": wall / size}


def batched(agents: int, days_list: tuple[int, ...], size: int, processes: int) -> list[dict]:
    """Simulations per hour, alone (a batch of one) and batched, in one process and on the machine
    (`processes` batches at once, one per process)."""
    out = []
    for days in days_list:
        alone = batch_rate(agents, days, 1)
        one = batch_rate(agents, days, size)
        cmd = [sys.executable, __file__, "--batch-child", str(agents), str(days), str(size)]
        children = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(processes)]
        walls = []
        for child in children:
            stdout, _ = child.communicate()
            if child.returncode != 0:
                raise RuntimeError(f"batch benchmark child failed: {' '.join(cmd)}")
            walls.append(json.loads(stdout.strip().splitlines()[-1])["wall_s"])
        out.append(
            {
                "agents": agents,
                "days": days,
                "batch": size,
                "alone_s_per_sim": alone["s_per_sim"],
                "batched_s_per_sim": one["s_per_sim"],
                "alone_sims_per_hour": 3600 / alone["s_per_sim"],
                "batched_sims_per_hour": 3600 / one["s_per_sim"],
                "processes": processes,
                # each process's rate while the others ran (their clocks start once the configs are composed)
                "machine_sims_per_hour": sum(3600 * size / w for w in walls),
                "machine_walls_s": walls,
            }
        )
    return out


def batch_table(rows: list[dict]) -> str:
    head = (
        f"{'agents':>8}{'days':>6}{'batch':>7}{'alone s/sim':>13}{'batched s/sim':>15}"
        f"{'sims/h alone':>14}{'sims/h batched':>16}{'sims/h machine':>16}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['agents']:>8,}{r['days']:>6}{r['batch']:>7}{r['alone_s_per_sim']:>13.3f}{r['batched_s_per_sim']:>15.3f}"
            f"{r['alone_sims_per_hour']:>14,.0f}{r['batched_sims_per_hour']:>16,.0f}{r['machine_sims_per_hour']:>16,.0f}"
        )
    return "\n".join(lines)


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


def small_table(rows: list[dict]) -> str:
    head = f"{'agents':>8}{'days':>6}  {'mechanisms':<11}{'s/sim':>8}{'ms/day':>8}{'sims/hour':>11}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['agents']:>8,}{r['days']:>6}  {r['mechanisms']:<11}{r['s_per_sim']:>8.3f}{r['ms_per_day']:>8.3f}"
            f"{r['sims_per_hour']:>11,.0f}"
        )
    return "\n".join(lines)


def phase_table(record: dict) -> str:
    shares = sorted(record["phase_share"].items(), key=lambda kv: -kv[1])
    return "\n".join(f"{name:<16}{share:>7.1%}" for name, share in shares)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smallest size only (CI smoke check)")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench" / "bench.json")
    parser.add_argument("--sizes", type=int, nargs="*", help="agent counts of the array engine")
    parser.add_argument("--reference-agents", type=int, help="agents of the Mesa per-object baseline")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="array", help=argparse.SUPPRESS)
    parser.add_argument("--override", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=50, help="simulations per batch (20,000 agents each)")
    parser.add_argument("--batch-child", type=int, nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.batch_child:
        print(json.dumps(batch_rate(*args.batch_child)))
        return 0
    if args.one:
        print(json.dumps(measure_one(args.one, args.engine, args.override)))
        return 0

    print("machine rates, seconds per simulation ...", file=sys.stderr, flush=True)
    rates = machine_rates()
    per_sim = per_simulation(20_000, (90,) if args.quick else (365, 852), 1 if args.quick else 3)
    fixed = per_simulation(1_000, (90,) if args.quick else (852,), 1 if args.quick else 3)
    print("batches ...", file=sys.stderr, flush=True)
    batch_rows = batched(
        20_000, (90,) if args.quick else (365, 852), 4 if args.quick else args.batch, os.cpu_count() or 1
    )
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
        "machine_rates": rates,
        "per_simulation": per_sim,
        "fixed_cost_per_day": fixed,
        "batched": batch_rows,
        "speedup_vs_mesa_reference": {str(r["agents"]): r["agent_days_per_s"] / ref for r in records[:-1]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(table(records))
    print(small_table(per_sim + fixed))
    print(batch_table(batch_rows))
    print(", ".join(f"{k} {v:.3g}" for k, v in rates.items()))
    for r in records[:-1]:
        print(f"phases at {r['agents']:,} agents:\n{phase_table(r)}")
    for n, x in result["speedup_vs_mesa_reference"].items():
        print(f"array engine at {int(n):,} agents: {x:,.0f}x the agent-days per second of the Mesa reference")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
