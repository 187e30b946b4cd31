"""What a sweep prints: one line per finished job and a summary across the swept settings, nothing
else (a note said once, not once per job; no 'leaked semaphore' warnings, no per-run tables, no
list of unswept settings, no Hydra job list): sim/run/folder.py, sim/run/__main__.py
(run_isolated, print_once), sim/run/logs.py, sim.analysis.aggregate."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from sim.run.logs import QuietLaunch

ENV = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}


def test_a_sweep_prints_progress_and_a_summary_only(tmp_path):
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "sim.run", "-m", "+experiment=regimes", "policy=linkedin_actual,eu_affirmative",
           "seed=0,1", "uncertainty=none", "population.agents=1000", "end=2024-09-20",
           f"hydra.sweep.dir={sweep}"]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "leaked semaphore" not in done.stderr and "UserWarning" not in done.stderr, done.stderr
    assert done.stderr.count("automatic per-region floor") == 1, done.stderr  # a small sample's note, once
    out = done.stdout.splitlines()
    assert sum(line.startswith("wrote ") for line in out) == 4  # one line per job
    assert not any("shares of eligible members" in line for line in out)  # no run's region table
    assert not any(line.startswith("settings:") for line in out)  # no list of settings nobody swept
    assert not any("\t#" in line or "Joblib.Parallel(" in line for line in out)  # no job list
    head = out.index(next(line for line in out if line.startswith("at the horizon, all regions")))
    assert out[head + 1].split()[:2] == ["policy", "enrolled"]
    rows = [line.split()[0] for line in out[head + 3 :]]
    assert rows == ["eu_affirmative", "linkedin_actual"], done.stdout


def test_the_filter_drops_only_the_job_list():
    keep = QuietLaunch()
    record = lambda msg: logging.LogRecord("hydra", logging.INFO, __file__, 1, msg, None, None)  # noqa: E731
    assert not keep.filter(record("\t#0 : policy=linkedin_actual seed=0"))
    assert not keep.filter(record("Joblib.Parallel(n_jobs=-1,backend=loky) is launching 4 jobs"))
    assert keep.filter(record("Launching jobs, sweep output dir : multirun/x"))
    assert keep.filter(record("an error"))
