"""The command line (`python -m sim.run`), run as a subprocess inside the test's temporary folder:
a good run writes its run folder; a bad input stops before any work with a message naming the key,
the value and what is allowed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.model.metrics import METRIC_NAMES
from sim.model.regions import ALL, REGION_CODES

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["progress=false", "population.agents=10000", "population.min_agents_per_region=500"]


def run_cli(tmp_path: Path, *overrides: str, run_dir: str = "run", multirun: bool = False):
    """Run the Hydra entry point in tmp_path; every output goes under tmp_path."""
    args = [sys.executable, "-m", "sim.run"]
    if multirun:
        args += ["--multirun", f"hydra.sweep.dir={tmp_path / run_dir}"]
    else:
        args += [f"hydra.run.dir={tmp_path / run_dir}"]
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run(
        [*args, *SMALL, *overrides], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env
    )


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    figures = (ROOT / "sim" / "reports" / "figures.py").exists()
    result = run_cli(tmp, "end=2025-12-31", "seed=5", *(["figures=true"] if figures else []))
    return tmp / "run", result, figures


def test_a_small_run_exits_zero_and_writes_its_run_folder(good_run):
    run_dir, result, _ = good_run
    assert result.returncode == 0, result.stderr
    for name in ("config.yaml", "provenance.json", "series.parquet", "summary.json"):
        assert (run_dir / name).is_file(), name
    assert "wrote" in result.stdout
    assert not list(run_dir.glob(".*.tmp-*"))


def test_a_figures_run_writes_the_two_headline_pngs(good_run):
    run_dir, result, figures = good_run
    if not figures:
        pytest.skip("sim/reports/figures.py does not exist")
    assert result.returncode == 0, result.stderr
    pngs = sorted(p.name for p in run_dir.glob("*.png"))
    assert len(pngs) == 2, pngs
    for name in pngs:
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_series_is_tidy_with_one_row_per_day_region_and_metric(good_run):
    run_dir, result, _ = good_run
    assert result.returncode == 0, result.stderr
    series = pd.read_parquet(run_dir / "series.parquet")
    assert list(series.columns) == ["date", "region", "metric", "value"]
    assert set(series.region) == {*REGION_CODES, ALL}
    assert set(series.metric) == set(METRIC_NAMES)
    n_days = (pd.Timestamp("2025-12-31") - pd.Timestamp("2024-09-01")).days + 1
    assert series.date.nunique() == n_days
    assert len(series) == n_days * (len(REGION_CODES) + 1) * len(METRIC_NAMES)
    assert not series.duplicated(["date", "region", "metric"]).any()
    assert series.value.notna().all()


def test_the_run_folder_records_the_resolved_config_and_provenance(good_run):
    run_dir, result, _ = good_run
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["seed"] == 5 and config["population"]["agents"] == 10000 and config["end"] == "2025-12-31"
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert (
        provenance["seed"] == 5 and provenance["agents"] == 10000 and provenance["days"] == 487
    )  # 2024-09-01 to 2025-12-31
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["horizon_date"] == "2025-12-31"
    assert set(summary["regions"]) == {*REGION_CODES, ALL}
    assert set(summary["regions"]["ALL"]) == set(METRIC_NAMES)


def test_a_multirun_writes_one_run_folder_per_job(tmp_path):
    result = run_cli(tmp_path, "end=2024-10-31", "seed=1,2", run_dir="sweep", multirun=True)
    assert result.returncode == 0, result.stderr
    folders = sorted(p.parent for p in (tmp_path / "sweep").rglob("series.parquet"))
    assert len(folders) == 2
    seeds = sorted(json.loads((f / "summary.json").read_text())["seed"] for f in folders)
    assert seeds == [1, 2]


BAD_INPUTS = [
    ("population.agents=-5", ["population.agents", "-5", "greater than or equal to 1"]),
    ("awareness.notices.email_read_prob=1.5", ["awareness.notices.email_read_prob", "1.5", "less than or equal to 1"]),
    ("end=2024-01-01", ["end", "2024-01-01", "before start", "2024-09-01"]),
    ("policy=nonexistent", ["policy", "nonexistent", "linkedin_actual", "forced_choice_everywhere"]),
    ("+population.foo=1", ["population.foo", "1", "unknown key"]),
    ("+population.minor_share.XX=0.1", ["population.minor_share", "XX", "EU_EEA", "default"]),
    ("policy.events.0.regime=sometimes", ["policy.events.0.regime", "sometimes", "default_on", "forced_choice"]),
    ("+policy.events.0.route=nowhere", ["events[0].route", "nowhere", "settings_toggle", "objection_form"]),
    ("policy.initial.route=nowhere", ["initial.route", "nowhere", "settings_toggle", "prominent_toggle"]),
]


@pytest.mark.parametrize(("override", "expected"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_a_bad_input_exits_non_zero_with_a_message_and_writes_no_series(tmp_path, override, expected):
    result = run_cli(tmp_path, override)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for text in expected:
        assert text in output, (text, output)
    assert "Traceback" not in output
    assert not list(tmp_path.rglob("series.parquet"))
    assert not list(tmp_path.rglob("summary.json"))


def test_every_bad_value_is_reported_in_one_go(tmp_path):
    result = run_cli(tmp_path, "population.agents=-5", "awareness.notices.email_read_prob=1.5", "seed=-3")
    assert result.returncode != 0
    assert "3 problem(s)" in result.stderr
    for key in ("population.agents", "awareness.notices.email_read_prob", "seed"):
        assert key in result.stderr
    assert not list(tmp_path.rglob("series.parquet"))
