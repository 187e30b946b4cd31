"""The array engine and the per-object Mesa reference apply the same rules to the same draws.

Both sample the same population and graph and use keyed random draws, so for one config and seed
they must give the same per-region curves: counts exactly (up to the division's rounding), the
ledger up to float summation order. This is stronger than "within sampling error": any rule that
one engine applies differently shows up as a difference.
"""

import numpy as np
import pytest

from sim.model.config import validate_config
from sim.model.engine import ConsentModel
from sim.model.metrics import INDEX
from sim.run.compose import EVERY_MECHANISM_OFF, compose_raw
from sim.verification.reference import REFERENCE_METRICS, ReferenceModel


def _config(overrides):
    # the reference covers the core model (its docstring): every mechanism off
    base = ["population.agents=1000", "population.min_agents_per_region=100", "progress=false", *EVERY_MECHANISM_OFF]
    return validate_config(compose_raw([*base, *overrides]))


def _run(cls, config):
    model = cls(config)
    while model.running:
        model.step()
    return model


@pytest.mark.parametrize(
    "overrides",
    [
        ["end=2025-12-31"],
        ["policy=forced_choice_everywhere", "end=2025-06-30"],
        ["policy=affirmative_everywhere", "end=2025-06-30", "consent.accept_intent_prob=0.5"],
        ["policy=prominent_toggle", "end=2025-12-31", "training.retroactive_removal=true", "feed.face_boost=3"],
        ["end=2025-12-31", "policy.substitutions=[{regions:[all],route:{settings_toggle:objection_form}}]"],
        [
            "end=2025-12-31",
            "population.post_rate_scale=1.7",
            "training.first_pull_lag_days=3",
            "training.backlog_share=0.6",
            "training.retroactive_removal=true",
        ],
    ],
    ids=["actual", "forced_choice", "affirmative", "prominent_removal_boost", "objection_form_wait", "volume_timing"],
)
def test_array_engine_matches_mesa_reference(overrides):
    config = _config(overrides)
    array, reference = _run(ConsentModel, config), _run(ReferenceModel, config)
    assert reference.pop.n == array.pop.n == 1000
    got = array.records[:, :-1, [INDEX[m] for m in REFERENCE_METRICS]]
    for k, metric in enumerate(REFERENCE_METRICS):
        np.testing.assert_allclose(got[:, :, k], reference.records[:, :, k], rtol=1e-6, atol=1e-9, err_msg=metric)
    # the comparison is not vacuous: members acted and data flowed
    assert array.records[-1, -1, INDEX["aware_share"]] > 0.3
    assert array.records[-1, -1, INDEX["dataset_text_tokens"]] > 0
    acted = array.records[-1, -1, INDEX["opted_out_share"]] + array.records[-1, -1, INDEX["opted_in_share"]]
    assert acted > 0


def test_the_reference_refuses_a_mechanism_it_does_not_cover():
    with pytest.raises(ValueError, match="salience"):
        ReferenceModel(_config(["end=2024-09-10", "salience.enabled=true"]))


def test_reference_model_is_per_object_mesa():
    import mesa

    model = ReferenceModel(_config(["end=2024-09-10"]))
    assert isinstance(model, mesa.Model)
    assert len(model.agents) == model.pop.n
    assert all(isinstance(a, mesa.Agent) for a in model.agents)
