"""The package works from a wheel, outside the source tree: configs and data come through it.

Builds the wheel, installs it (without dependencies, which this environment has) into a fresh
target folder, and runs `python -m sim.run` from an unrelated folder with only that folder on the
import path, so nothing of the checkout (conf/, docs/, the editable install) can be used.
.ci/run also installs the wheel with its dependencies into a fresh virtual environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_wheel_installed_elsewhere_runs_from_any_folder(tmp_path):
    src, dist, site, work = tmp_path / "src", tmp_path / "dist", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    # Build from a copy: a build writes build/ and *.egg-info beside the sources.
    skip = shutil.ignore_patterns(".git", ".venv*", "outputs", "multirun", "build", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, src, symlinks=True, ignore=skip)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(dist), str(src)], check=True)
    wheel = next(dist.glob("consent_sim-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import sim; print(sim.__file__)"], cwd=work, env=env, capture_output=True, text=True
    )
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout  # the wheel's copy, not the checkout
    run = subprocess.run(
        [sys.executable, "-m", "sim.run", "population.agents=1500", "end=2024-10-31", "progress=false",
         "hydra.run.dir=out"],
        cwd=work, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((work / "out" / "summary.json").read_text())
    assert summary["policy"] == "linkedin_actual" and summary["agents"] == 1500  # at the start (joiners beside)
