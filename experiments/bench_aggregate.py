"""Aggregation time and peak memory for 30, 300 and 3,000 runs, new and old implementation.

    python experiments/bench_aggregate.py --source multirun/regimes-tiny [--sizes 30 300 3000]

SOURCE is a real sweep (e.g. `python -m sim.run -m +experiment=regimes population.agents=1500
population.min_agents_per_region=100 hydra.sweep.dir=multirun/regimes-tiny`: 30 runs of the full
horizon). The series' size does not depend on the agent count (days x 11 regions x 63 metrics per
run), so a larger sweep is built by copying its run folders with distinct seeds (series hard-linked:
the aggregation reads them as it would distinct files). Each aggregation runs in a child process
whose peak resident memory is its /proc VmHWM. The old implementation is sim/analysis/aggregate.py
at commit OLD (the in-memory pandas code), run from that commit's own `sim` package (extracted into
WORK by `git archive`: modules it imports have moved since), on sizes up to --old-max only: it holds
every row in memory (13.7 GB at 30 runs of 20,000 agents), so 300 runs would need over 100 GB.

Writes docs/performance/aggregate.json, read by experiments/performance_report.py.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLD = "0345a82"  # the last commit with the in-memory aggregation
CHILD = """import runpy, sys
sys.argv = ["aggregate", sys.argv[2]]
try:
    {run}
except SystemExit:
    pass
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print("VmHWM_kB", hwm)
"""


def build_sweep(source: Path, runs: int, target: Path) -> None:
    """`runs` run folders from the source's, cycling through them with seeds made distinct."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    folders = sorted(p.parent for p in source.glob("*/series.parquet"))
    for k in range(runs):
        src = folders[k % len(folders)]
        dst = target / str(k)
        dst.mkdir()
        shift = 1000 * (k // len(folders))  # copy c of a run: seed + 1000 c

        def seeded(m: re.Match, shift: int = shift) -> str:
            return m.group(0).replace(m.group(1), str(int(m.group(1)) + shift))

        for name in ("config.yaml", "run.json", "summary.json", "provenance.json"):
            if (src / name).exists():
                text = (src / name).read_text()
                if name == "config.yaml":
                    text = re.sub(r"(?m)^seed: (\d+)", seeded, text)
                if name == "run.json":
                    text = re.sub(r'"seed=(\d+)"', seeded, text)
                (dst / name).write_text(text)
        os.link(src / "series.parquet", dst / "series.parquet")


def old_tree(work: Path) -> Path:
    """Commit OLD's `sim` package, extracted once into `work` (its aggregate imports its own modules)."""
    tree = work / f"sim-{OLD}"
    if not (tree / "sim" / "analysis" / "aggregate.py").exists():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", OLD, "sim"], cwd=ROOT, check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
    return tree


def measure(module: str, sweep: Path, root: Path = ROOT) -> dict:
    """Wall time and peak resident memory of one aggregation (`python -m module` with `root` first on
    the path) in a child process."""
    code = CHILD.replace("{run}", f"runpy.run_module({module!r}, run_name='__main__')")
    shutil.rmtree(sweep / "aggregate", ignore_errors=True)  # each starts from the run folders alone
    env = {**os.environ, "PYTHONPATH": str(root)}
    started = time.perf_counter()
    # from `root`: `python -c` puts the folder it runs in first on the path, before PYTHONPATH
    done = subprocess.run([sys.executable, "-c", code, "-", str(sweep.resolve())], capture_output=True, text=True,
                          env=env, cwd=root)  # fmt: skip
    seconds = time.perf_counter() - started
    peak = re.search(r"VmHWM_kB (\d+)", done.stdout)
    if done.returncode != 0 or not peak:
        raise RuntimeError(f"aggregation of {sweep} failed: {done.stderr[-2000:]}")
    return {"seconds": round(seconds, 2), "peak_bytes": int(peak.group(1)) * 1024}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", type=Path, required=True, help="a real sweep folder (30 runs of the full horizon)")
    p.add_argument("--sizes", type=int, nargs="+", default=[30, 300, 3000])
    p.add_argument("--old-max", type=int, default=30, help="largest size the old implementation runs on")
    p.add_argument("--work", type=Path, default=Path("/tmp/bench_aggregate"))
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "performance" / "aggregate.json")
    args = p.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    old = old_tree(args.work) if min(args.sizes) <= args.old_max else None
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(next(args.source.glob("*/series.parquet"))).metadata.num_rows
    results = []
    for runs in args.sizes:
        sweep = args.work / f"sweep-{runs}"
        build_sweep(args.source, runs, sweep)
        for name, root in (("new", ROOT), ("old", old)):
            if name == "old" and runs > args.old_max:
                results.append({"runs": runs, "implementation": name, "skipped": f"over --old-max {args.old_max}"})
                continue
            measured = measure("sim.analysis.aggregate", sweep, root)
            result = {"runs": runs, "rows": runs * rows, "implementation": name, **measured}
            print(json.dumps(result), flush=True)
            results.append(result)
        shutil.rmtree(sweep, ignore_errors=True)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    record = {"source": str(args.source), "rows_per_run": rows, "old_commit": OLD, "cpus": os.cpu_count(),
              "memory_bytes": total, "date_utc": when, "results": results}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
