"""Stored regression baselines: every metric per region at the horizon of a small default run, of
the model with every mechanism off (the core model before them) and of the shipped model (every
mechanism on).

A change that moves any result fails here, so results move only on purpose. After a deliberate
change (say why in the commit), rewrite the baselines with

    python tests/test_regression_baseline.py --update
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sim.run.compose import EVERY_MECHANISM_OFF

BASELINE = Path(__file__).resolve().parent / "baseline" / "small_default_run.json"  # every mechanism off
SHIPPED_BASELINE = Path(__file__).resolve().parent / "baseline" / "small_shipped_run.json"  # every mechanism on
# The small run of conftest (20,000 agents, floor 1,000, seed 0, the shipped policy).
OVERRIDES = ("population.agents=20000", "population.min_agents_per_region=1000", "progress=false", "seed=0")
# Every mechanism (sim.model.mechanisms) switched off: the model before them must be reproduced.
MECHANISMS_OFF = EVERY_MECHANISM_OFF


def horizon_values(model) -> dict:
    from sim.model.metrics import METRIC_NAMES
    from sim.run.folder import OUTPUT_REGIONS

    last = model.records[model.day - 1]
    return {
        region: {name: float(last[r, k]) for k, name in enumerate(METRIC_NAMES)}
        for r, region in enumerate(OUTPUT_REGIONS)
    }


def _matches(path: Path, *overrides: str) -> None:
    from conftest import run_cached

    stored = json.loads(path.read_text())
    assert stored["overrides"] == list(OVERRIDES[:2]) + ["seed=0"], "the baseline was made with other settings"
    now = horizon_values(run_cached(*overrides))
    assert set(now) == set(stored["regions"]), "regions changed"
    # metrics added since the baseline was stored are not in it; every stored one must be unchanged
    missing = {name for values in stored["regions"].values() for name in values} - set(now["ALL"])
    assert not missing, f"metrics of the baseline no longer recorded: {sorted(missing)}"
    moved = {
        (region, name): (stored["regions"][region][name], values[name])
        for region, values in now.items()
        for name in stored["regions"][region]
        if stored["regions"][region][name] != pytest.approx(values[name], rel=1e-12, abs=1e-12)
    }
    assert not moved, f"results moved (update the baseline only on purpose): {dict(list(moved.items())[:8])}"


def test_the_small_default_run_with_every_mechanism_off_matches_the_stored_baseline():
    _matches(BASELINE, *MECHANISMS_OFF)


def test_the_small_run_of_the_shipped_model_matches_the_stored_baseline():
    _matches(SHIPPED_BASELINE)


if __name__ == "__main__" and "--update" in sys.argv:
    from sim.model.config import validate_config
    from sim.run.compose import compose_raw
    from sim.run.folder import run_model

    for path, switches in ((BASELINE, MECHANISMS_OFF), (SHIPPED_BASELINE, ())):
        model = run_model(validate_config(compose_raw([*OVERRIDES, *switches])), progress=False)
        data = {"overrides": list(OVERRIDES[:2]) + ["seed=0"], "regions": horizon_values(model)}
        path.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {path}")
