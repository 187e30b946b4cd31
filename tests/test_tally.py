"""The engine's running counts (sim.model.tally) equal a full recount of every member, every day.

The record reads per-region counts kept up to date where state changes (members touched, intent
lapsing on its calendar, face shares moved by posts) instead of recounting the population daily.
This checks them against the slow full pass on small runs with every mechanism on, day by day.
"""

import numpy as np
import pytest

from sim.model.config import validate_config
from sim.model.engine import ConsentModel
from sim.model.tally import COUNT_NAMES, full_pass
from sim.run.compose import EVERY_MECHANISM_ON, compose_raw


@pytest.mark.parametrize(
    "overrides",
    [
        ["end=2025-12-31"],
        ["policy=forced_choice_everywhere", "end=2025-06-30", "training.retroactive_removal=true"],
        ["end=2025-12-31", "policy.substitutions=[{regions:[all],route:{settings_toggle:objection_form}}]"],
        [  # ROW opt-in unasked: accepters' intents from opt_in_interest
            "end=2025-12-31",
            "policy=opt_in_unasked",
            "opt_in_interest.rate_per_year=0.9",
            "policy.substitutions=[{regions:[ROW],regime:{default_on:unticked_box}}]",
        ],
    ],
    ids=["actual", "forced_choice_removal", "objection_form_wait", "opt_in_unasked"],
)
def test_running_counts_equal_a_full_recount_every_day(overrides):
    base = ["population.agents=3000", "population.min_agents_per_region=150", "progress=false"]
    model = ConsentModel(validate_config(compose_raw([*base, *EVERY_MECHANISM_ON, *overrides])))
    moved = 0
    while model.running:
        t = model.day
        model.step()
        slow = full_pass(model, t)
        fast = model._last_counts
        for name in COUNT_NAMES:
            np.testing.assert_array_equal(fast[name], slow[name], err_msg=f"{name} on day {t}")
        np.testing.assert_allclose(fast["face_post_rate"], slow["face_post_rate"], rtol=1e-6, err_msg=f"day {t}")
        moved += int(slow["gap_intending"].sum() > 0)
    assert moved > 0  # the intent calendar was exercised
    assert slow["opted_out"].sum() > 0 and slow["gap"].sum() > 0
