"""The memory estimate counts what a run holds: the metric registry's metrics, every output region,
and every posterior draw's records."""

from __future__ import annotations

import pytest

from sim.core.compose import compose_raw
from sim.model.config import validate_config
from sim.model.memory import (
    RECORD_BYTES,
    NotEnoughMemory,
    check_memory,
    estimate_bytes,
    records_per_simulation,
    run_bytes,
    simulation_bytes,
)
from sim.model.metrics import METRIC_NAMES
from sim.model.regions import REGION_CODES

SHORT = ["population.agents=2000", "end=2024-12-31"]


def test_a_simulation_counts_every_registered_metric_and_output_region():
    config = validate_config(compose_raw(SHORT))
    assert records_per_simulation(config) == config.horizon_days * (len(REGION_CODES) + 1) * len(METRIC_NAMES)
    assert simulation_bytes(config) > records_per_simulation(config) * RECORD_BYTES


def test_a_posterior_ensemble_counts_the_records_of_every_draw():
    one = validate_config(compose_raw(SHORT))
    few, many = (
        validate_config(compose_raw([*SHORT, "uncertainty=posterior", f"uncertainty.draws={n}"])) for n in (10, 1000)
    )
    per_draw = (run_bytes(many) - run_bytes(few)) / 990
    assert per_draw > 2 * RECORD_BYTES * records_per_simulation(one)  # the records and their series table
    assert run_bytes(one) < run_bytes(few) < run_bytes(many)
    # a batch's share of one simulation does not depend on how many draws its run holds
    assert estimate_bytes(one) == estimate_bytes(many)


def test_an_ensemble_whose_records_alone_do_not_fit_is_refused_with_what_to_change():
    config = validate_config(compose_raw([*SHORT, "uncertainty=posterior", "uncertainty.draws=10000"]))
    with pytest.raises(
        NotEnoughMemory, match=r"uncertainty.draws=10,000 needs .* use at most about uncertainty.draws="
    ):
        check_memory(config, available=20e9)  # the draws that would fit are named
    with pytest.raises(NotEnoughMemory, match=r"records of its 10,000 simulation\(s\).*fewer uncertainty.draws"):
        check_memory(config, available=0.5e9)  # not even two draws fit beside the interpreter
