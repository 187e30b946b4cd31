"""The performance report's account of what limits each target is computed from the benchmark's
own measurements: checked here on a synthetic benchmark whose arithmetic is known."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "experiments"))  # the report imports the benchmark's helpers by name
_spec = importlib.util.spec_from_file_location("performance_report", ROOT / "experiments" / "performance_report.py")
performance_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(performance_report)


def _bench_and_million():
    flags = {f"state.flag{i}": {"dtype": "bool", "bytes_per_agent": 1.0} for i in range(16)}
    million = {
        "agents": 1_000_000,
        "agent_days_per_s": 1e8,  # 10 ms per simulated day
        "state_bytes_per_agent": 60.0,
        "phase_share": {"visits": 0.2, "awareness": 0.5, "record": 0.3, "post": 0.0},
        "state_fields": {**flags, "pop.skill": {"dtype": "float32", "bytes_per_agent": 8.0}},
        "visit_lookup": {"days": 60, "visiting_share_per_day": 0.06, "scan_ms_per_day": 0.7, "calendar_ms_per_day": 7},
    }
    bench = {
        "machine_rates": {"memory_copy_gb_per_s": 10.0},
        "fixed_cost_per_day": [{"agents": 1000, "days": 852, "mechanisms": "all on", "ms_per_day": 1.0}],
        "per_simulation": [{"agents": 20000, "days": 852, "mechanisms": "all on", "s_per_sim": 1.704}],
        "records": [{"engine": "reference", "agent_days_per_s": 1e5}],
    }
    return bench, million


def test_limits_follow_from_the_measurements():
    bench, million = _bench_and_million()
    text = "\n".join(performance_report._limits(bench, million))
    # fixed cost 1 ms/day x 852 days = 0.852 s of 1.704 s; the 0.5 s target leaves 0.5/852 s a day
    assert "50% of its 1.70 s is the fixed cost per day (1.00 ms at 1,000 agents, times 852 days)" in text
    assert "leaves 0.59 ms per day" in text
    # 10^6 / 1e8 = 10 ms a day against 10^6 / 2e8 = 5 ms; one read of 60 MB at 10 GB/s = 6 ms
    assert "takes 10.0 ms per day; the target allows 5.0 ms" in text and "takes 6.0 ms" in text
    assert "(awareness 50%, record 30%, visits 20%)" in text
    assert "3e+08 agent-days per second" in text  # 3,000 x the reference's 1e5
    # 16 flags packed into one 16-bit word: 60 - 16 + 2 = 46; float32 halved: 46 - 4 = 42, within 48
    assert "about 46.0 bytes per agent" in text and "about 42.0 (within the target" in text
    assert "(6.0% visit a day)" in text and "takes 0.70 ms a day" in text and "takes 7.00 ms" in text
    assert "found by a compiled scan" in text


def test_a_calendar_faster_than_the_scan_is_reported_as_a_saving():
    bench, million = _bench_and_million()
    million["visit_lookup"].update(scan_ms_per_day=2.0, calendar_ms_per_day=0.5)
    text = "\n".join(performance_report._limits(bench, million))
    assert "a calendar would save 1.50 ms a day" in text and "compiled scan" not in text


def test_limits_leave_out_what_the_benchmark_did_not_measure():
    bench, _ = _bench_and_million()
    text = "\n".join(performance_report._limits({**bench, "per_simulation": []}, None))
    assert "fixed cost" not in text and "ms per day" not in text


def test_a_benchmark_child_reports_its_own_peak_memory_not_its_parents():
    """Each size runs in a child process; Linux's ru_maxrss would carry the parent's peak into it."""
    import subprocess

    import numpy as np

    held = np.ones(300_000_000 // 8)  # this process now peaks above 300 MB
    code = "import bench; print(bench._peak_rss_bytes())"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT / "experiments"
    )
    assert held.sum() > 0 and int(out.stdout) < 250e6


def test_the_memory_lines_scale_the_measured_peak_to_every_member_and_to_the_machine():
    largest = {"agents": 10**7, "peak_bytes_per_agent": 200.0}
    largest.update(state_bytes_per_agent=70.0, graph_bytes_per_agent=50.0)
    text = "\n".join(performance_report._memory_lines({"machine": {"memory_bytes": 24e9}}, largest))
    # 930e6 x 120 B = 111.6 GB of arrays; x 200 B = 186 GB at the peak; 24e9 / 200 = 120 million agents
    assert "112 GB in all before temporaries, and about 186 GB at the measured peak of 200 bytes" in text
    assert "This machine (24.0 GB) holds about 120 million agents" in text
    assert "holds about" not in "\n".join(performance_report._memory_lines({"machine": {}}, largest))


def test_the_aggregation_section_reads_the_benchmark_and_checks_the_targets():
    record = {
        "source": "/tmp/regimes-tiny", "rows_per_run": 590_436, "old_commit": "0345a82", "cpus": 2,
        "memory_bytes": 24e9, "date_utc": "2026-12-01 20:00",
        "results": [
            {"runs": 30, "rows": 30 * 590_436, "implementation": "new", "seconds": 10.0, "peak_bytes": 6e8},
            {"runs": 30, "rows": 30 * 590_436, "implementation": "old", "seconds": 240.0, "peak_bytes": 13.7e9},
            {"runs": 300, "rows": 300 * 590_436, "implementation": "new", "seconds": 90.0, "peak_bytes": 6.5e8},
            {"runs": 300, "implementation": "old", "skipped": "over --old-max 30"},
            {"runs": 3000, "rows": 3000 * 590_436, "implementation": "new", "seconds": 1000.0, "peak_bytes": 2.5e9},
        ],
    }  # fmt: skip
    text = "\n".join(performance_report.aggregate_lines(record))
    assert "| 30 | 17,713,080 | 10.0 s | 0.60 GB | 240.0 s | 13.70 GB |" in text
    assert "| 300 | 177,130,800 | 90.0 s | 0.65 GB | not run | not run |" in text
    assert "not run at 300 runs" in text
    assert "30 runs: 10.0 s (target <= 15 s) and 0.60 GB (target <= 1 GB): met" in text
    assert "3,000 runs: 2.50 GB (target <= 2 GB): NOT met" in text
    # 10/30 = 0.333 s a run, 1000/3000 = 0.333: no faster than linear; 100x the time for 100x the runs
    assert "seconds per run: 0.333, 0.300, 0.333" in text and "grows no faster than linearly (100x" in text


def test_the_posterior_sweeps_verdict_follows_from_its_peak():
    record = {"date_utc": "2026-12-02 08:00", "cpus": 2, "memory_bytes": 25e9, "command": "python -m sim.run -m x",
              "runs": 12, "draws": 20, "simulations": 240, "agents": 20_000, "seconds": 435.0}  # fmt: skip
    fits = "\n".join(performance_report.posterior_sweep_lines({**record, "peak_tree_bytes": 4.9e9}))
    assert "4.90 GB" in fits and "7.2 minutes" in fits and fits.endswith(": met")
    too_big = "\n".join(performance_report.posterior_sweep_lines({**record, "peak_tree_bytes": 17e9}))
    assert too_big.endswith("NOT met")


def test_the_process_trees_memory_counts_a_childs():
    """bench_posterior_sweep sums the whole tree: a child holding 300 MB puts the tree above that,
    where the parent alone holds a few MB."""
    import subprocess
    import time

    from bench_posterior_sweep import tree_rss_bytes

    hold = "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(60)"
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {hold!r}])"]
    )
    try:
        deadline = time.time() + 20
        while tree_rss_bytes(parent.pid) < 300 * 2**20 and time.time() < deadline:
            time.sleep(0.2)
        assert tree_rss_bytes(parent.pid) >= 300 * 2**20
    finally:
        subprocess.run(["pkill", "-P", str(parent.pid)], check=False)
        parent.kill()
        parent.wait()
