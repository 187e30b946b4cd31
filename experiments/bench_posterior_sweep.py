"""The posterior example of docs/INFERENCE.md end to end: wall time and peak memory of the whole sweep.

    python experiments/bench_posterior_sweep.py                 # regimes x 2 seeds x 20 draws, 20,000 agents
    python experiments/bench_posterior_sweep.py --draws 2 --agents 2000 --out /tmp/p.json   # a quick look
    python experiments/performance_report.py                    # renders docs/performance/posterior_sweep.json

It runs the sweep command (its jobs on every core, as a user's would) and its aggregation, and every
second sums the resident memory of the command's whole process tree (the launcher, its workers and
their children, read from /proc): that sum's maximum is what a machine must hold, which a single
process's peak understates. The JSON records the command, the wall time, that peak, the simulations
and the machine (issue 29: "the README's posterior example end to end on a 16 GB machine").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "performance" / "posterior_sweep.json"


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants (Linux /proc; a process gone meanwhile counts 0)."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) * 1024
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def run_measured(cmd: list[str], cwd: Path) -> dict:
    """Run `cmd`, sampling its process tree's memory every second; its wall time and peak."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_bytes(proc.pid))
            done.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"the sweep failed (exit {proc.returncode}):\n{err[-3000:]}")
    return {"seconds": round(time.perf_counter() - start, 1), "peak_tree_bytes": peak}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, default=20_000)
    p.add_argument("--draws", type=int, default=20)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-posterior-") as work:
        sweep = Path(work) / "sweep"
        cmd = [sys.executable, "-m", "sim.run", "-m", "+experiment=regimes", "uncertainty=posterior",
               f"uncertainty.draws={args.draws}", f"seed=range(0,{args.seeds})", f"population.agents={args.agents}",
               f"hydra.sweep.dir={sweep}"]  # fmt: skip
        measured = run_measured(cmd, Path(work))
        runs = len(list(sweep.glob("[0-9]*")))  # the sweep's job folders
    record = {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "command": "python -m sim.run " + " ".join(cmd[3:-1]),
        "agents": args.agents,
        "draws": args.draws,
        "seeds": args.seeds,
        "runs": runs,
        "simulations": runs * args.draws,
        "cpus": os.cpu_count(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "seconds": measured["seconds"],
        "peak_tree_bytes": measured["peak_tree_bytes"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    peak = record["peak_tree_bytes"] / 1e9
    print(f"{record['simulations']} simulations in {record['seconds']:.0f} s, peak {peak:.2f} GB over the process "
          f"tree -> {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
