"""`python -m sim.validate CASES.yaml`: cases of the user's own against the model over posterior draws."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim import validate
from sim.analysis.calibration import load_targets
from sim.analysis.posterior import write_posterior

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "validation_cases.yaml"


@pytest.fixture(scope="module")
def posterior_dir(tmp_path_factory) -> Path:
    """A three-row posterior over the calibrated parameters (a fixture, not the shipped one)."""
    _, params, nuisance = load_targets()
    every = params + nuisance
    mid = [np.mean(next(iter(p["prior"].values()))) for p in every]
    values = np.array([mid, mid, mid]) * np.array([[0.9], [1.0], [1.1]])
    out = tmp_path_factory.mktemp("posterior")
    write_posterior(out, [{k: p[k] for k in ("name", "keys", "prior")} for p in every], values, [1, 1, 1], {})
    return out


def _cases(tmp_path: Path, cases: list[dict]) -> Path:
    path = tmp_path / "cases.yaml"
    path.write_text(yaml.safe_dump({"cases": cases}), encoding="utf-8")
    return path


def test_the_example_file_runs_and_reports_interval_band_and_overlap(posterior_dir, tmp_path):
    code = validate.main([str(EXAMPLE), "--draws", "2", "--agents", "400", "--posterior-dir", str(posterior_dir),
                          "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    result = json.loads((tmp_path / "validation.json").read_text())
    ids = {c["id"] for c in yaml.safe_load(EXAMPLE.read_text())["cases"]}
    assert {r["id"] for r in result["results"]} == ids
    for r in result["results"]:
        low, high = r["model_90"]
        assert low <= r["model_median"] <= high and len(r["values"]) == 2
        assert r["overlap"] == (low <= r["band"][1] and r["band"][0] <= high)
    assert "| overlap |" in (tmp_path / "validation.md").read_text()
    assert (tmp_path / "cases.yaml").read_text() == EXAMPLE.read_text()  # the cases as run
    assert result["provenance"]["git"].keys() == {"commit", "dirty"} and len(result["posterior_sha256"]) == 64


def test_overlap_is_any_shared_point_of_the_interval_and_the_band(monkeypatch, posterior_dir, tmp_path):
    """With the model's values fixed, a band overlaps exactly when it shares a point with the 5-95% interval."""
    monkeypatch.setattr(validate, "evaluate_many", lambda sets, *a, **k: [{"c": 0.5} for _ in sets])
    case = {"id": "c", "source": "s", "measure": {"visited_within_days": 30}}
    for band, overlap in (([0.4, 0.6], True), ([0.5, 0.5], True), ([0.6, 0.9], False), ([0.0, 0.49], False)):
        cases = validate.load_cases(_cases(tmp_path, [{**case, "band": band}]))
        assert validate.run_cases(cases, 2, 100, posterior_dir)[0]["overlap"] is overlap, band


@pytest.mark.parametrize(
    "case, says",
    [
        ({"id": "a", "source": "s", "measure": {"series": "opted_out_share", "region": "ALL", "day": -1}}, "no band"),
        ({"id": "a", "source": "s", "band": [0.2, 0.1], "measure": {"visited_within_days": 30}}, "low above high"),
        (
            {"id": "a", "source": "s", "band": [0, 1], "measure": {"series": "opted_out", "region": "ALL", "day": -1}},
            "unknown metric",
        ),
        ({"id": "a", "source": "s", "band": [0, 1], "measure": {"guess": 1}}, "measure must name one of"),
    ],
)
def test_bad_cases_stop_with_a_clear_message_and_exit_2(case, says, tmp_path, capsys, posterior_dir):
    code = validate.main([str(_cases(tmp_path, [case])), "--posterior-dir", str(posterior_dir)])
    assert code == 2 and says in capsys.readouterr().err


def test_a_missing_posterior_names_the_command_that_makes_it(tmp_path, capsys):
    code = validate.main([str(EXAMPLE), "--posterior-dir", str(tmp_path)])
    assert code == 2 and "experiments/calibrate.py" in capsys.readouterr().err


@pytest.mark.parametrize("draws", ["1", "200000"])
def test_draws_outside_their_range_are_refused(draws, capsys, posterior_dir):
    code = validate.main([str(EXAMPLE), "--draws", draws, "--posterior-dir", str(posterior_dir)])
    assert code == 2 and f"--draws {draws}: allowed 2" in capsys.readouterr().err


def test_two_cases_with_one_id_are_refused_not_reported_twice(tmp_path, capsys, posterior_dir):
    case = {"id": "same", "source": "s", "band": [0, 1], "measure": {"visited_within_days": 30}}
    code = validate.main([str(_cases(tmp_path, [case, {**case, "band": [0.2, 0.3]}])), "--posterior-dir",
                          str(posterior_dir)])  # fmt: skip
    assert code == 2 and "id 'same' is also case 1's" in capsys.readouterr().err


SERIES = {"series": "opted_out_share", "region": "ALL", "day": -1}
VALUE_PROBLEMS = {
    "negative window": ({"measure": {"visited_within_days": -5}}, ["visited_within_days = -5", "at least 1"]),
    "NaN band": ({"band": [float("nan"), 0.5]}, ["band must be [low, high], two finite numbers"]),
    "unknown route": ({"measure": {"layer_ratio": "secret_door", "drop_step": 1}},
                      ["layer_ratio = 'secret_door': unknown route", "settings_toggle"]),
    "missing drop_step": ({"measure": {"layer_ratio": "settings_toggle"}}, ["needs drop_step"]),
    "drop_step past the steps": ({"measure": {"layer_ratio": "settings_toggle", "drop_step": 9}},
                                 ["drop_step = 9", "allowed 0 to 3"]),
    "day past the horizon": ({"measure": {**SERIES, "day": 400}, "scenario": {"end": "2024-12-31"}},
                             ["day = 400: past the horizon", "122 days", "allowed -122 to 121"]),
    "day as a date": ({"measure": {**SERIES, "day": "2024-10-01"}}, ["a day is an index, not a date", "is day 30"]),
    "bad scenario key": ({"scenario": {"friction.try_prb": 0.5}}, ["friction.try_prb", "unknown key"]),
    "bad scenario value": ({"scenario": {"friction.try_prob": 1.5}}, ["friction.try_prob = 1.5", "less than or equal"]),
    "missing scenario section": ({"scenario": {"frction.try_prob": 0.5}}, ["'frction.try_prob': no such key"]),
    "misspelt case key": ({"scenaro": {"end": "2025-01-01"}}, ["unknown key 'scenaro'"]),
}  # fmt: skip


@pytest.mark.parametrize("problem", list(VALUE_PROBLEMS))
def test_a_bad_value_stops_before_any_simulation_with_exit_2(problem, tmp_path, capsys, monkeypatch, posterior_dir):
    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated a bad file")

    monkeypatch.setattr(validate, "evaluate_many", no_simulation)
    change, says = VALUE_PROBLEMS[problem]
    case = {"id": "a", "source": "s", "band": [0, 1], "measure": SERIES, **change}
    code = validate.main([str(_cases(tmp_path, [case])), "--posterior-dir", str(posterior_dir)])
    err = capsys.readouterr().err
    assert code == 2, err
    for text in says:
        assert text in err, (text, err)
