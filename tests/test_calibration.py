"""The shipped defaults reproduce every calibration target (conf/calibration/targets.yaml)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.calibration import evaluate, load_targets, shipped_raw, with_values
from sim.run.compose import DATA_DIR, get_key, set_key

TARGETS, PARAMETERS, NUISANCE = load_targets()
AGENTS = 20_000


@pytest.fixture(scope="module")
def results():
    import json

    fitted = DATA_DIR / "calibration" / "calibration.json"
    nuisance_values = json.loads(fitted.read_text())["nuisance"] if fitted.exists() else {}
    return evaluate(shipped_raw(), TARGETS, AGENTS, [0, 1], NUISANCE, nuisance_values)


@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
def test_shipped_defaults_reproduce_the_target(target, results):
    value = float(np.mean(results[target.id]))
    assert target.within(value), f"{target.id}: model {value:.4g}, target {target.value} ± {target.tolerance}"


def test_every_target_names_its_anchor_and_every_parameter_its_targets():
    ids = {t.id for t in TARGETS}
    assert all(t.anchor.startswith("ANCHORS") and t.source for t in TARGETS)
    for p in PARAMETERS:
        assert set(p["targets"]) <= ids and p["bounds"][0] < p["bounds"][1]


def test_fitted_defaults_say_they_were_calibrated():
    from sim.reports.parameter_table import parameters

    sources = {p.key: p.source for p in parameters()}
    for p in PARAMETERS:
        for key in p["keys"]:
            assert "calibrated" in sources[key], f"{key}: {sources[key]}"


def test_scenario_settings_replace_rather_than_merge():
    raw = shipped_raw()
    set_key(raw, "population.login_segments", {"daily": {"share": 1.0, "rate_per_day": 24.0}})
    assert list(raw["population"]["login_segments"]) == ["daily"]
    changed = with_values(raw, PARAMETERS, {"try_prob": 0.123})
    assert get_key(changed, "friction.try_prob") == 0.123
    assert get_key(raw, "friction.try_prob") != 0.123  # the input is not modified
