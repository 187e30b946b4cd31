"""Write docs/PERFORMANCE.md from the benchmark's and the convergence study's outputs.

    python experiments/bench.py --out docs/performance/bench.json
    python experiments/convergence.py --out docs/performance
    python experiments/bench_aggregate.py --source SWEEP_DIR   # the sweep aggregation's section
    python experiments/bench_posterior_sweep.py                # the posterior example end to end
    python experiments/performance_report.py

Every number in the report is read from those files (none is typed by hand); the measured data
and the convergence figure stay beside it in docs/performance/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pandas as pd
from bench import (
    batch_table,
    phase_table,
    small_table,
    table,
)  # the sibling script (its folder is on sys.path when run)

ROOT = Path(__file__).resolve().parent.parent

# docs/ISSUES: "Fast enough for inference" (issue 15)
TARGETS = {
    "s_per_sim_20k_852": 0.5,
    "agent_days_per_s_at_1e6": 2e8,
    "setup_s_at_1e6": 5.0,
    "speedup_vs_mesa": 3000.0,
    "state_bytes_per_agent": 48.0,
    "batched_sims_per_hour_20k_852_machine": 10_000,  # issue "Many simulations in one run"
}
ALL_MEMBERS = 930_000_000  # the network's members, one agent each


def _by_size(records: list[dict], engine: str) -> dict[int, dict]:
    return {r["agents"]: r for r in records if r["engine"] == engine}


# docs/ISSUES: "Sweeps that scale" (issue 29)
AGGREGATE_TARGETS = {"runs_30_peak_bytes": 1e9, "runs_30_seconds": 15.0, "runs_3000_peak_bytes": 2e9}


def aggregate_lines(record: dict) -> list[str]:
    """The sweep aggregation's section, from experiments/bench_aggregate.py's JSON: time and peak
    memory per size, old and new, the targets, and how time grows with the runs."""
    done = [r for r in record["results"] if "seconds" in r]
    new = {r["runs"]: r for r in done if r["implementation"] == "new"}
    old = {r["runs"]: r for r in done if r["implementation"] == "old"}
    skipped = sorted(r["runs"] for r in record["results"] if r.get("skipped"))
    lines = [
        "## Sweep aggregation",
        "",
        f"`experiments/bench_aggregate.py` at {record['date_utc']} UTC ({record['cpus']} CPUs, "
        f"{record['memory_bytes'] / 1e9:.1f} GB): `python -m sim.analysis.aggregate` on sweeps of copies of "
        f"`{Path(record['source']).name}`'s run folders ({record['rows_per_run']:,} rows per run, whatever the "
        f"agents), in a child process each (peak = its VmHWM); old = commit {record['old_commit']}'s in-memory code.",
        "",
        "| runs | rows | new: time | new: peak | old: time | old: peak |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for runs in sorted(new):
        n, o = new[runs], old.get(runs)
        cells = [f"{o['seconds']:.1f} s", f"{o['peak_bytes'] / 1e9:.2f} GB"] if o else ["not run", "not run"]
        lines.append(f"| {runs:,} | {n['rows']:,} | {n['seconds']:.1f} s | {n['peak_bytes'] / 1e9:.2f} GB | "
                     + " | ".join(cells) + " |")  # fmt: skip
    lines.append("")
    if skipped:
        lines += [f"The old code was not run at {', '.join(f'{r:,}' for r in skipped)} runs: it holds every row in "
                  "memory (about 770 bytes a row), far past this machine's memory.", ""]  # fmt: skip
    checks = []
    if 30 in new:
        t, m = new[30]["seconds"], new[30]["peak_bytes"]
        checks.append(f"30 runs: {t:.1f} s (target <= {AGGREGATE_TARGETS['runs_30_seconds']:.0f} s) and "
                      f"{m / 1e9:.2f} GB (target <= {AGGREGATE_TARGETS['runs_30_peak_bytes'] / 1e9:.0f} GB): "
                      + ("met" if t <= AGGREGATE_TARGETS["runs_30_seconds"]
                         and m <= AGGREGATE_TARGETS["runs_30_peak_bytes"] else "NOT met"))  # fmt: skip
    if 3000 in new:
        m = new[3000]["peak_bytes"]
        checks.append(f"3,000 runs: {m / 1e9:.2f} GB (target <= {AGGREGATE_TARGETS['runs_3000_peak_bytes'] / 1e9:.0f}"
                      " GB): " + ("met" if m <= AGGREGATE_TARGETS["runs_3000_peak_bytes"] else "NOT met"))  # fmt: skip
    sizes = sorted(new)
    if len(sizes) > 1:
        first, last = new[sizes[0]], new[sizes[-1]]
        per_run = [new[r]["seconds"] / r for r in sizes]
        at = ", ".join(f"{r:,}" for r in sizes)
        checks.append(f"seconds per run: {', '.join(f'{x:.3f}' for x in per_run)} at {at}"
                      f" runs: time grows {'no faster than' if per_run[-1] <= per_run[0] * 1.1 else 'FASTER than'}"
                      f" linearly ({last['seconds'] / first['seconds']:.0f}x the time for "
                      f"{sizes[-1] / sizes[0]:.0f}x the runs)")  # fmt: skip
    return [*lines, *(f"- {c}" for c in checks)]


POSTERIOR_SWEEP_TARGET_BYTES = 16e9  # issue 29: the README's posterior example on a 16 GB machine


def posterior_sweep_lines(record: dict) -> list[str]:
    """The posterior example end to end, from experiments/bench_posterior_sweep.py's JSON."""
    peak = record["peak_tree_bytes"]
    verdict = "met" if peak <= POSTERIOR_SWEEP_TARGET_BYTES else "NOT met"
    return [
        "### The posterior example end to end",
        "",
        f"`experiments/bench_posterior_sweep.py` at {record['date_utc']} UTC ({record['cpus']} CPUs, "
        f"{record['memory_bytes'] / 1e9:.1f} GB): `{record['command']}` ({record['runs']} runs of "
        f"{record['draws']} posterior draws, {record['simulations']} simulations at {record['agents']:,} agents), "
        "the jobs on every core and the aggregation after them.",
        "",
        f"- wall time {record['seconds'] / 60:.1f} minutes; peak resident memory of the whole process tree "
        f"(launcher, workers, their children; sampled every second) {peak / 1e9:.2f} GB "
        f"(target: fits a {POSTERIOR_SWEEP_TARGET_BYTES / 1e9:.0f} GB machine): {verdict}",
    ]


def report(bench: dict, spread: pd.DataFrame, conv: dict, default_agents: int, figure: Path,
           aggregation: dict | None = None, posterior_sweep: dict | None = None) -> str:  # fmt: skip
    arrays = _by_size(bench["records"], "array")
    ref = next(r for r in bench["records"] if r["engine"] == "reference")
    lines = [
        "# Performance and sample size",
        "",
        "Generated by `experiments/performance_report.py` from the outputs of `experiments/bench.py` and",
        "`experiments/convergence.py` kept in `docs/performance/`; do not edit by hand. Rerun those three",
        "commands (see docs/SPEED.md) to refresh it.",
        "",
        "## The machine",
        "",
        f"- platform: `{bench['machine']['platform']}`, {bench['machine']['cpus']} CPUs, "
        + (f"{bench['machine']['memory_bytes'] / 1e9:.1f} GB of memory, " if "memory_bytes" in bench["machine"] else "")
        + f"Python {bench['machine']['python']}",
        f"- benchmark run at {bench['when_utc']} ({bench['mode']} mode), one process per size",
        "",
        "## Speed and memory",
        "",
        "Full model (every mechanism on), policy `linkedin_actual`, default horizon. `peak B/agent` is the",
        "process's peak resident memory above its baseline after imports, per agent (graph, state,",
        "set-up temporaries and the fixed-size records included); `graph B/agent` is the graph's CSR",
        "arrays; `state B/agent` is the population and state arrays (graph excluded).",
        "",
        "```text",
        table(bench["records"]),
        "```",
        "",
        "Speed of the array engine relative to the per-object Mesa reference "
        f"(`sim/verification/reference.py`, {ref['agents']:,} agents over {ref['days']} days):",
        "",
    ]
    for n, x in bench["speedup_vs_mesa_reference"].items():
        lines.append(f"- {int(n):,} agents: {x:,.0f} times the agent-days per second")
    lines += _new_columns(bench, arrays)
    lines += ["", "### Against the targets", ""]
    million = arrays.get(1_000_000) or next((r for n, r in arrays.items() if 1_000_000 <= n < 2_000_000), None)
    checks = []
    if million:
        checks += [
            ("agent-days per second at 10^6", million["agent_days_per_s"], TARGETS["agent_days_per_s_at_1e6"], ">="),
            ("set-up seconds at 10^6", million["setup_s"], TARGETS["setup_s_at_1e6"], "<="),
            ("state bytes per agent at 10^6", million["state_bytes_per_agent"], TARGETS["state_bytes_per_agent"], "<="),
        ]
    per_sim = [r for r in bench.get("per_simulation", []) if r["days"] == 852]
    for r in per_sim:
        checks.append(
            (f"seconds per 20,000-agent simulation, 852 days, mechanisms {r['mechanisms']}", r["s_per_sim"],
             TARGETS["s_per_sim_20k_852"], "<=")
        )  # fmt: skip
    for r in bench.get("batched", []):
        if r["days"] == 852:
            checks.append(
                (f"20,000-agent simulations of 852 days per hour on this machine, every mechanism on, batches of "
                 f"{r['batch']} ({r['processes']} processes)", r["machine_sims_per_hour"],
                 TARGETS["batched_sims_per_hour_20k_852_machine"], ">=")
            )  # fmt: skip
    best = max(bench["speedup_vs_mesa_reference"].values())
    checks.append(("speed-up over the Mesa reference", best, TARGETS["speedup_vs_mesa"], ">="))
    for name, value, target, op in checks:
        met = value >= target if op == ">=" else value <= target
        lines.append(f"- {name}: {value:,.3g} (target {op} {target:,.3g}): {'met' if met else 'NOT met'}")
    if 10_000_000 in arrays:
        big = arrays[10_000_000]
        peak_gb = big["peak_bytes_per_agent"] * big["agents"] / 1e9
        lines.append(f"- 10^7 agents over the full horizon: completed, peak about {peak_gb:.1f} GB (limit 24 GB)")
    lines += _limits(bench, million)
    lines += [
        "",
        "## Sample size",
        "",
        f"`experiments/convergence.py`: the default policy at several agent counts, {conv['seeds']} seeds each,",
        f"per-region floor {conv['floor_share']:.0%} of the agents. The table gives the largest standard",
        "deviation over seeds, across regions (percentage points) of each headline share at the horizon:",
        "the standard error of one run's regional number.",
        "",
        "```text",
        spread.groupby(["agents", "metric"])["sd_points"].max().unstack("metric").round(2).to_string(),
        "```",
        "",
        f"![seed-to-seed spread]({figure.as_posix()})",
        "",
    ]
    worst = spread[spread.agents == default_agents]
    if not worst.empty:
        top = worst.sort_values("sd_points").iloc[-1]
        lines.append(
            f"At the shipped default of {default_agents:,} agents the largest spread of any headline share "
            f"in any region is {top.sd_points:.2f} points ({top.metric} in {top.region})."
        )
    if aggregation:
        lines += ["", *aggregate_lines(aggregation)]
    if posterior_sweep:
        lines += ["", *posterior_sweep_lines(posterior_sweep)]
    return "\n".join(lines) + "\n"


def _limits(bench: dict, million: dict | None) -> list[str]:
    """What bounds each speed and memory target, from this benchmark's own measurements."""
    lines = ["", "### What limits the targets, and what would move them", ""]
    fixed = {r["mechanisms"]: r for r in bench.get("fixed_cost_per_day", [])}
    alone = [r for r in bench.get("per_simulation", []) if r["days"] == 852 and r["mechanisms"] in fixed]
    for r in alone:
        per_day = fixed[r["mechanisms"]]
        share = per_day["ms_per_day"] * r["days"] / 1e3 / r["s_per_sim"]
        lines.append(
            f"- One {r['agents']:,}-agent simulation, mechanisms {r['mechanisms']}: {share:.0%} of its "
            f"{r['s_per_sim']:.2f} s is the fixed cost per day ({per_day['ms_per_day']:.2f} ms at "
            f"{per_day['agents']:,} agents, times {r['days']} days), while the target leaves "
            f"{TARGETS['s_per_sim_20k_852'] / r['days'] * 1e3:.2f} ms per day for everything; the rest grows "
            "with the agents (next item)."
        )
    if alone:
        lines.append(
            "  The fixed cost is the step's hundreds of small array operations and Python calls a day, whatever "
            "the agent count. A batch shares it among its simulations (the batch table above): that is how the "
            "throughput target is met. One simulation alone would need the day's step compiled whole, not its "
            "innermost loops only."
        )
    rates = bench["machine_rates"]
    if million:
        n, bandwidth = million["agents"], rates["memory_copy_gb_per_s"] * 1e9
        day_ms = n / million["agent_days_per_s"] * 1e3
        allowed_ms = n / TARGETS["agent_days_per_s_at_1e6"] * 1e3
        pass_ms = million["state_bytes_per_agent"] * n / bandwidth * 1e3
        top = sorted(million["phase_share"].items(), key=lambda kv: -kv[1])[:3]
        lines.append(
            f"- Stepping at {n:,} agents takes {day_ms:.1f} ms per day; the target allows {allowed_ms:.1f} ms. "
            f"One read of every agent's state ({million['state_bytes_per_agent']:.0f} bytes each) takes "
            f"{pass_ms:.1f} ms at this machine's measured copy rate, so the target needs each day to touch "
            "well under all the state. The largest phases ("
            + ", ".join(f"{name} {share:.0%}" for name, share in top)
            + ") gather and scatter by member index across the arrays (random access, a fraction of the copy "
            "rate): with one array per field, a day that reads a dozen fields of each visitor misses the cache "
            "a dozen times per visitor. Storing each member's fields together (one record per member) would "
            "make that about one miss, at the price of strided whole-array operations elsewhere. The Mesa "
            "reference target is the same bound: "
            f"{TARGETS['speedup_vs_mesa']:,.0f} times the reference's rate is "
            f"{TARGETS['speedup_vs_mesa'] * _reference_rate(bench):.2g} agent-days per second."
        )
        lookup = million.get("visit_lookup")
        if lookup:
            scan, calendar = lookup["scan_ms_per_day"], lookup["calendar_ms_per_day"]
            verdict = (
                f"so a calendar would save {scan - calendar:.2f} ms a day"
                if calendar < scan
                else "reading every member's day in order beats following links to scattered members, so "
                "visits, posts and media exposure are found by a compiled scan (one counting pass, one writing "
                "pass), not a calendar"
            )
            lines.append(
                f"- Finding the day's visitors at {n:,} agents ({lookup['visiting_share_per_day']:.1%} visit a "
                f"day): the scan of every member's next-visit day takes {scan:.2f} ms a day; an event calendar "
                f"(each day's members in a linked list, sorted to the scan's order; `visit_lookup` in the "
                f"benchmark, over {lookup['days']} days) takes {calendar:.2f} ms. At this density {verdict}."
            )
        fields = million.get("state_fields")
        if fields:
            flags = [f for f in fields.values() if f["dtype"] == "bool"]
            flag_bytes = sum(f["bytes_per_agent"] for f in flags)
            float_bytes = sum(f["bytes_per_agent"] for f in fields.values() if f["dtype"] == "float32")
            packed = million["state_bytes_per_agent"] - flag_bytes + 2 * -(-len(flags) // 16)  # 16 flags a word
            halved = packed - float_bytes / 2
            lines.append(
                f"- State: {len(flags)} true/false fields take {flag_bytes:.1f} bytes per agent and the float32 "
                f"fields {float_bytes:.1f}. Packing the flags into bits would bring "
                f"{million['state_bytes_per_agent']:.1f} to about {packed:.1f} bytes per agent, with the same "
                f"results. Storing the float32 fields as float16 would take that to about {halved:.1f} "
                f"({'within' if halved <= TARGETS['state_bytes_per_agent'] else 'still above'} the target of "
                f"{TARGETS['state_bytes_per_agent']:.0f}), but it changes the numbers, so the regression "
                "baseline would have to be redone on purpose."
            )
    return lines


def _reference_rate(bench: dict) -> float:
    """Agent-days per second of the per-object Mesa reference in this benchmark."""
    return next(r["agent_days_per_s"] for r in bench["records"] if r["engine"] == "reference")


def _batch_lines(bench: dict) -> list[str]:
    if not bench.get("batched"):
        return []
    return [
        "### Many simulations in one run (batches)",
        "",
        "Every mechanism on, 20,000 agents, different seeds. `alone`: one simulation per model; `batched`:",
        "one model running a batch of simulations (`sim.model.batch`: each gives exactly its series alone),",
        "in one process; `machine`: one such batch per core in separate processes, started together once",
        "their configs are composed and timed to the last one done. A calibration, ensemble or",
        "sensitivity run sizes its batches with `sim.model.batch.batch_size` (about 10^6 agents, within",
        "half the memory available).",
        "",
        "```text",
        batch_table(bench["batched"]),
        "```",
        "",
    ]


def _new_columns(bench: dict, arrays: dict[int, dict]) -> list[str]:
    """Seconds per simulation, the fixed cost per day, the phase profile, the machine's rates and memory."""
    if "per_simulation" not in bench:
        return []
    rates, largest = bench["machine_rates"], arrays[max(arrays)]
    fixed = bench["fixed_cost_per_day"]
    lines = [
        "",
        "### Seconds per simulation",
        "",
        "One process, each simulation built (population, graph, schedules) and run, best of the repeats;",
        "`sims/hour` is what one process gives at that pace. The 1,000-agent rows measure the fixed cost",
        "per simulated day (the agents' own work is negligible there): "
        + ", ".join(f"{r['ms_per_day']:.2f} ms per day with mechanisms {r['mechanisms']}" for r in fixed)
        + ".",
        "",
        "```text",
        small_table(bench["per_simulation"] + fixed),
        "```",
        "",
        *_batch_lines(bench),
        f"### Where the stepping time goes at {largest['agents']:,} agents",
        "",
        "Share of the stepping time in each phase of `ConsentModel.step` (docs/ODD.md §3), timed by",
        "`sim.model.engine.time_phases`:",
        "",
        "```text",
        phase_table(largest),
        "```",
        "",
        "### The machine, measured in the same run",
        "",
        f"- memory copy: {rates['memory_copy_gb_per_s']:.1f} GB/s (read plus write of a 256 MB array)",
        f"- numpy PCG64 uniforms: {rates['pcg64_uniforms_per_s']:.3g} per second",
        f"- the model's keyed uniforms (`Streams.uniform`): {rates['keyed_uniforms_per_s']:.3g} per second",
        "",
        *_memory_lines(bench, largest),
    ]
    if largest.get("state_fields"):
        by_dtype: dict[str, list[float]] = {}
        for field in largest["state_fields"].values():
            by_dtype.setdefault(field["dtype"], []).append(field["bytes_per_agent"])
        lines += [
            "",
            "By type (fields, bytes per agent; per-poster arrays count per agent at the poster share): "
            + "; ".join(
                f"{dtype} {len(sizes)} fields, {sum(sizes):.1f}"
                for dtype, sizes in sorted(by_dtype.items(), key=lambda kv: -sum(kv[1]))
            )
            + ". Field by field: `state_fields` in `docs/performance/bench.json`.",
        ]
    return lines


def _memory_lines(bench: dict, largest: dict) -> list[str]:
    """What a run of every member one-to-one would need, and how many agents this machine holds."""
    state, graph = largest["state_bytes_per_agent"], largest["graph_bytes_per_agent"]
    peak = largest["peak_bytes_per_agent"]
    memory = bench["machine"].get("memory_bytes")
    fits = (
        f"This machine ({memory / 1e9:.1f} GB) holds about {memory / peak / 1e6:,.0f} million agents at that "
        "peak (before the interpreter and its libraries), so"
        if memory
        else "So"
    )
    return [
        "### Memory per agent, and all members one-to-one",
        "",
        f"At {largest['agents']:,} agents the population and state arrays take {state:.1f} bytes per agent and the",
        f"graph {graph:.1f} (contacts as int32 indices, row offsets as int64: beyond 2^31 edges int32 offsets",
        f"overflow). A run of all {ALL_MEMBERS:,} members one-to-one would hold about",
        f"{ALL_MEMBERS * state / 1e9:,.0f} GB of state and {ALL_MEMBERS * graph / 1e9:,.0f} GB of graph,",
        f"{ALL_MEMBERS * (state + graph) / 1e9:,.0f} GB in all before temporaries, and about "
        f"{ALL_MEMBERS * peak / 1e9:,.0f} GB at the measured peak of {peak:.0f} bytes per agent (the process's "
        "peak above its baseline).",
        f"{fits} the model samples agents that stand for members (weights per region); `sim.model.memory` "
        "refuses a run that would not fit.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=ROOT / "docs" / "performance" / "bench.json")
    parser.add_argument("--convergence", type=Path, default=ROOT / "docs" / "performance")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    args = parser.parse_args(argv)
    import yaml

    default_agents = yaml.safe_load((ROOT / "conf" / "population" / "default.yaml").read_text())["agents"]
    bench = json.loads(args.bench.read_text())
    spread = pd.read_csv(args.convergence / "convergence.csv")
    conv = json.loads((args.convergence / "convergence.json").read_text())
    figure = Path(os.path.relpath(args.convergence / "convergence.png", args.out.parent))
    agg_file = args.convergence / "aggregate.json"  # experiments/bench_aggregate.py, if it was run
    aggregation = json.loads(agg_file.read_text()) if agg_file.exists() else None
    sweep_file = args.convergence / "posterior_sweep.json"  # experiments/bench_posterior_sweep.py, if it was run
    posterior_sweep = json.loads(sweep_file.read_text()) if sweep_file.exists() else None
    args.out.write_text(report(bench, spread, conv, default_agents, figure, aggregation, posterior_sweep),
                        encoding="utf-8")  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
