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
(numpy PCG64) beside the keyed draws' rate, so runs on different machines can be compared. At each
size it also times the engine's scan for the day's visitors against an event calendar
(`visit_lookup`).
Batches (sim.model.batch): simulations per hour at 20,000 agents over 365 and 852 days with every
mechanism on, alone and as one batch of `--batch` simulations (different seeds) in one process,
and for the whole machine: one batch per core in separate processes, started together (once their
configs are composed) and timed to the last one done.
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

from sim.run.compose import EVERY_MECHANISM_OFF, EVERY_MECHANISM_ON

ROOT = Path(__file__).resolve().parent.parent
FULL_SIZES = (100_000, 1_000_000, 10_000_000)
QUICK_SIZES = (100_000,)
MACHINE_LEAD_S = 20.0  # seconds for the batch processes to start and compose their configs before the common start


def _config(agents: int, overrides: list[str]):
    from sim.core.compose import compose_raw
    from sim.model.config import validate_config

    return validate_config(compose_raw([f"population.agents={agents}", "progress=false", *overrides]))


def _peak_rss_bytes() -> int:
    """This process's peak resident memory. Linux's VmHWM, not `ru_maxrss`: a child started by
    fork and exec inherits its parent's ru_maxrss, so a benchmark child started after the batches
    would report the parent's peak and hide its own."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
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
        fields = {  # each population and state array (the graph apart): its dtype and bytes per agent
            f"{part}.{name}": {"dtype": str(value.dtype), "bytes_per_agent": value.nbytes / n}
            for part, arrays in (("pop", vars(model.pop)), ("state", vars(model.state)))
            for name, value in arrays.items()
            if hasattr(value, "nbytes")
        }
        record["state_bytes_per_agent"] = sum(f["bytes_per_agent"] for f in fields.values())
        record["state_fields"] = fields
        record["phase_share"] = {name.strip("_"): sec / (t2 - t1) for name, sec in phases.items()}
        record["visit_lookup"] = visit_lookup(model.pop.visit_prob)
    return record


def visit_lookup(visit_prob, days: int = 60) -> dict | None:
    """Today's visitors found two ways over `days` days of visits of members with these daily visit
    chances: the engine's scan of every member's next-visit day (`search.equal_indices`), and an
    event calendar (each day's members in a linked list, `calendar_prototype`, popped and sorted to
    the scan's order). Both see the same schedule; the draws and the state writes they share are not
    timed. The calendar is favoured: no member moves between days (return visits and closures
    would). None without numba (the calendar is compiled)."""
    import numpy as np
    from calendar_prototype import calendar_build, calendar_insert, calendar_pop

    from sim.model.random_streams import NEVER
    from sim.model.search import equal_indices

    if calendar_pop is None:
        return None
    rng = np.random.default_rng(0)
    p = np.maximum(np.asarray(visit_prob, np.float64), 1e-12)  # a member who never visits: beyond the horizon
    next_day = np.minimum(rng.geometric(p) - 1, NEVER).astype(np.int16)
    warm = calendar_build(next_day[:1], 1)  # compile before timing
    calendar_insert(*warm, calendar_pop(*warm, 0), np.zeros(1, np.int64))
    head, link = calendar_build(next_day, days)
    seconds, visitors = {"scan": 0.0, "calendar": 0.0}, 0
    for t in range(days):
        t0 = time.perf_counter()
        scanned = equal_indices(next_day, t)
        t1 = time.perf_counter()
        popped = calendar_pop(head, link, t)
        t2 = time.perf_counter()
        assert np.array_equal(scanned, popped)
        new_day = np.minimum(t + rng.geometric(p[scanned]), NEVER)
        next_day[scanned] = new_day
        t3 = time.perf_counter()
        calendar_insert(head, link, scanned, new_day)
        seconds["scan"] += t1 - t0
        seconds["calendar"] += t2 - t1 + time.perf_counter() - t3
        visitors += scanned.size
    return {
        "days": days,
        "visiting_share_per_day": visitors / days / p.size,
        **{f"{way}_ms_per_day": s / days * 1e3 for way, s in seconds.items()},
    }


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


def batch_rate(agents: int, days: int, size: int, start_at: float | None = None) -> dict:
    """Seconds per simulation of one batch of `size` simulations (seeds 0..size-1) in this process,
    built and run (the configs are composed before the clock starts, which waits for the wall-clock
    time `start_at` if given, so that several processes start together)."""
    from sim.model.batch import run_batch

    configs = [_days_config(agents, days, seed) for seed in range(size)]
    if start_at is not None:
        time.sleep(max(start_at - time.time(), 0.0))
    t0 = time.perf_counter()
    run_batch(configs)
    wall = time.perf_counter() - t0
    return {"agents": agents, "days": days, "batch": size, "wall_s": wall, "s_per_sim": wall / size, "end": time.time()}


def batched(agents: int, days_list: tuple[int, ...], size: int, processes: int) -> list[dict]:
    """Simulations per hour, alone (a batch of one) and batched, in one process and on the machine
    (`processes` batches at once, one per process)."""
    out = []
    for days in days_list:
        alone = batch_rate(agents, days, 1)
        one = batch_rate(agents, days, size)
        start_at = time.time() + MACHINE_LEAD_S  # every process has composed its configs by then
        cmd = [sys.executable, __file__, "--batch-child", str(agents), str(days), str(size), str(start_at)]
        children = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(processes)]
        ends = []
        for child in children:
            stdout, _ = child.communicate()
            if child.returncode != 0:
                raise RuntimeError(f"batch benchmark child failed: {' '.join(cmd)}")
            ends.append(json.loads(stdout.strip().splitlines()[-1])["end"])
        machine_wall = max(ends) - start_at  # from the common start to the last batch done
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
                "machine_sims_per_hour": 3600 * processes * size / machine_wall,
                "machine_wall_s": machine_wall,
            }
        )
    return out


def _fixed_table(rows: list[dict], columns: list[tuple[str, str, str, str]]) -> str:
    """A plain-text table: per column (heading, key, alignment and width such as ">8", number format)."""
    head = "".join(f"{name:{width}}" for name, _, width, _ in columns)
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append("".join(f"{r.get(key, float('nan')):{width}{fmt}}" for _, key, width, fmt in columns))
    return "\n".join(lines)


def batch_table(rows: list[dict]) -> str:
    return _fixed_table(
        rows,
        [("agents", "agents", ">8", ","), ("days", "days", ">6", ""), ("batch", "batch", ">7", ""),
         ("alone s/sim", "alone_s_per_sim", ">13", ".3f"), ("batched s/sim", "batched_s_per_sim", ">15", ".3f"),
         ("sims/h alone", "alone_sims_per_hour", ">14", ",.0f"),
         ("sims/h batched", "batched_sims_per_hour", ">16", ",.0f"),
         ("sims/h machine", "machine_sims_per_hour", ">16", ",.0f")],
    )  # fmt: skip


def _run_child(agents: int, engine: str, overrides: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--one", str(agents), "--engine", engine, *[f"--override={o}" for o in overrides]]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark of {engine} at {agents} agents failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(records: list[dict]) -> str:
    return _fixed_table(
        records,
        [("engine", "engine", "<10", ""), ("agents", "agents", ">12", ","), ("setup s", "setup_s", ">9", ".2f"),
         ("step s", "step_s", ">9", ".2f"), ("agent-days/s", "agent_days_per_s", ">14", ".3g"),
         ("s/sim-year", "s_per_simulated_year", ">11", ".2f"), ("peak B/agent", "peak_bytes_per_agent", ">13", ".0f"),
         ("graph B/agent", "graph_bytes_per_agent", ">14", ".1f"),
         ("state B/agent", "state_bytes_per_agent", ">14", ".1f")],
    )  # fmt: skip


def small_table(rows: list[dict]) -> str:
    return _fixed_table(
        rows,
        [("agents", "agents", ">8", ","), ("days", "days", ">6", ""), ("mechanisms", "mechanisms", ">12", ""),
         ("s/sim", "s_per_sim", ">8", ".3f"), ("ms/day", "ms_per_day", ">8", ".3f"),
         ("sims/hour", "sims_per_hour", ">11", ",.0f")],
    )  # fmt: skip


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
    parser.add_argument("--batch-child", type=float, nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.batch_child:
        agents, days, size, start_at = args.batch_child
        print(json.dumps(batch_rate(int(agents), int(days), int(size), start_at)))
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
    ref_overrides = [*EVERY_MECHANISM_OFF, *(["end=2024-11-29"] if args.quick else [])]  # 90 days in quick mode
    records = []
    for n in sizes:
        print(f"array engine, {n:,} agents ...", file=sys.stderr, flush=True)
        records.append(_run_child(n, "array", EVERY_MECHANISM_ON))
    print(f"Mesa per-object reference, {ref_agents:,} agents ...", file=sys.stderr, flush=True)
    records.append(_run_child(ref_agents, "reference", ref_overrides))  # the reference has the mechanisms off

    ref = records[-1]["agent_days_per_s"]
    result = {
        "when_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "python": sys.version.split()[0],
        },
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
