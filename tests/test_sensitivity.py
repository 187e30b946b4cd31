"""The sensitivity script runs end to end on a tiny design and writes its tables and report."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("sensitivity", ROOT / "experiments" / "sensitivity.py")
sensitivity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sensitivity)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # one trajectory: Morris sigma is undefined
def test_tiny_sensitivity_run_writes_morris_sobol_and_report(tmp_path):
    args = ["--agents", "1000", "--trajectories", "1", "--sobol-n", "2", "--top", "2", "--jobs", "1"]
    assert sensitivity.main([*args, "--out", str(tmp_path), "--data-out", str(tmp_path / "sensitivity")]) == 0
    morris = pd.read_csv(tmp_path / "sensitivity" / "morris.csv")
    spec_parameters = {p["name"] for p in sensitivity.load_spec()["parameters"]}
    assert set(morris.parameter) == spec_parameters
    assert (morris.mu_star >= 0).all()
    sobol = pd.read_csv(tmp_path / "sensitivity" / "sobol.csv")
    assert sobol.parameter.nunique() == 2
    report = (tmp_path / "SENSITIVITY.md").read_text()
    assert "What drives what" in report and "linkedin_actual/default_on_2024/enrolled_share" in report
    assert (tmp_path / "sensitivity" / "sensitivity.png").stat().st_size > 1000


def test_outputs_are_named_per_policy_group_and_metric():
    spec = sensitivity.load_spec()
    names = sensitivity.output_names(spec)
    assert len(names) == len(spec["policies"]) * len(spec["region_groups"]) * len(spec["outputs"])


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the optional [ray] extra is not installed")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_sensitivity_runs_its_design_on_a_local_ray(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "local")
    args = ["--agents", "1000", "--trajectories", "1", "--sobol-n", "2", "--top", "2", "--jobs", "2"]
    out = ["--out", str(tmp_path), "--data-out", str(tmp_path / "sensitivity")]  # nothing into the package
    assert sensitivity.main([*args, "--backend", "ray", *out]) == 0
    assert (tmp_path / "sensitivity" / "sobol.csv").exists()
