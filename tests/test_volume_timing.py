"""Volume and timing of the training set (issue 26 item 7): the post rates' scale, the first pull's
lag and the share of the backlog it takes (population.post_rate_scale, training.first_pull_lag_days,
training.backlog_share; docs/ODD.md 7.1 and 7.8). Their defaults (1.0, 0, 1.0) leave the model as it
was: tests/test_regression_baseline.py checks that, unchanged."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from sim.model.batch import simulate_many
from sim.model.config import validate_config
from sim.model.engine import ConsentModel
from sim.model.metrics import INDEX
from sim.model.regions import OUTPUT_REGIONS, REGION_CODES
from sim.model.rules.content import daily_probability
from sim.model.rules.ledger import DATA_TYPES, first_pull_data
from sim.model.stacking import batch_key
from sim.model.world import build_world
from sim.run.compose import EVERY_MECHANISM_OFF, compose_raw

# The core model alone (no mechanism: no joiners, no reactions), small, to the end of 2024: the
# shipped policy trains in US, IN, BR, ROW and UK from 2024-09-18 (day 17), the UK for two days only.
SMALL = (*EVERY_MECHANISM_OFF, "population.agents=6000", "population.min_agents_per_region=300", "progress=false",
         "end=2024-12-31")  # fmt: skip
FIRST_DAY = 17  # 2024-09-18, the first day of the 2024 training phase
US, UK, ALL = OUTPUT_REGIONS.index("US"), OUTPUT_REGIONS.index("UK"), OUTPUT_REGIONS.index("ALL")


def _config(*overrides: str):
    return validate_config(compose_raw([*SMALL, *overrides]))


@functools.cache
def _records(*overrides: str) -> np.ndarray:
    model = ConsentModel(_config(*overrides))
    while model.running:
        model.step()
    return model.records


def _series(records: np.ndarray, region: int, metric: str) -> np.ndarray:
    return records[:, region, INDEX[metric]]


def _pull_days(*overrides: str) -> dict[str, list[int]]:
    world = build_world(_config(*overrides))
    days = {r: [] for r in REGION_CODES}
    for t in range(world.n_days):
        for cell in world.pull_today(t)[1]:
            days[REGION_CODES[cell]].append(t)
    return days


# ---------------------------------------------------------------- the post rates' scale
def test_post_rate_scale_multiplies_every_sampled_rate_and_about_doubles_the_posts_made():
    from sim.model.world import sample_members

    one, two = sample_members(_config()), sample_members(_config("population.post_rate_scale=2"))
    np.testing.assert_array_equal(one.poster, two.poster)  # the same posters (the same draws)
    np.testing.assert_array_equal(two.poster_rate_per_day, 2 * one.poster_rate_per_day)
    # Posts made: new posts' text tokens taken by the weekly pulls after the first pull, while no
    # phase starts or ends (no backlog, no profile: only posts of members already in the set).
    window = slice(FIRST_DAY + 7, None)
    made = {}
    for scale in (1, 2):
        tokens = _series(_records(f"population.post_rate_scale={scale}"), ALL, "dataset_text_tokens")
        made[scale] = tokens[window][-1] - tokens[window][0]
    assert made[1] > 0
    # at most one post a day: the daily chance 1 - exp(-rate) is a little under twice as high
    expected = (
        daily_probability(2 * one.poster_rate_per_day.astype(np.float64)).sum()
        / daily_probability(one.poster_rate_per_day.astype(np.float64)).sum()
    )
    assert 1.8 < expected < 2.0
    assert made[2] / made[1] == pytest.approx(expected, rel=0.05)


# ---------------------------------------------------------------- the first pull's lag
def test_the_first_pull_comes_lag_days_after_the_phase_starts_then_the_weekly_schedule():
    at_once, late = _pull_days(), _pull_days("training.first_pull_lag_days=5")
    assert at_once["US"][:3] == [FIRST_DAY, 21, 28]  # the phase's first day, then every 7th day of the horizon
    assert late["US"][:2] == [FIRST_DAY + 5, 28]  # 5 days later; the scheduled day 21 falls in the lag
    assert [d for d in late["US"] if d > 28] == [d for d in at_once["US"] if d > 28]  # later pulls keep the schedule
    for k in (1, 3, 10):
        assert _pull_days(f"training.first_pull_lag_days={k}")["US"][0] == FIRST_DAY + k
    # in the run: the first profiles enter the set k days later
    for k in (0, 5):
        profiles = _series(_records(f"training.first_pull_lag_days={k}"), US, "dataset_profiles")
        assert np.flatnonzero(profiles > 0)[0] == FIRST_DAY + k


def test_a_phase_shorter_than_the_lag_has_no_first_pull():
    """The UK trained two days in 2024 (18 and 19 Sep): a lag of one day still pulls it, of two none."""
    assert _pull_days()["UK"][0] == FIRST_DAY
    assert _pull_days("training.first_pull_lag_days=1")["UK"][0] == FIRST_DAY + 1
    uk = _pull_days("training.first_pull_lag_days=2")["UK"]
    assert all(d > 365 for d in _pull_days("training.first_pull_lag_days=2", "end=2025-12-31")["UK"])
    assert uk == []  # none in 2024
    profiles = _series(_records("training.first_pull_lag_days=2"), UK, "dataset_profiles")
    assert (profiles == 0).all()
    assert (_series(_records(), UK, "dataset_profiles")[FIRST_DAY:] > 0).all()


def test_the_lag_changes_the_batch_key_and_simulations_with_other_lags_still_run_as_alone():
    """The pull schedule is one per batch (World.pull_today): configs with other lags never share one."""
    assert batch_key(_config()) != batch_key(_config("training.first_pull_lag_days=3"))
    configs = [_config(), _config("training.first_pull_lag_days=3")]
    for config, records in zip(configs, simulate_many(configs), strict=True):
        overrides = () if config.training.first_pull_lag_days == 0 else ("training.first_pull_lag_days=3",)
        np.testing.assert_array_equal(records, _records(*overrides))


def test_the_lag_counts_whole_days():
    from sim.model.config import ConfigError

    with pytest.raises(ConfigError):
        _config("training.first_pull_lag_days=2.5")
    with pytest.raises(ConfigError):
        _config("training.first_pull_lag_days=-1")


# ---------------------------------------------------------------- the share of the backlog
def test_backlog_share_scales_the_backlog_part_of_the_first_pull_and_not_the_profile():
    full = first_pull_data(True, 10.0, 400.0, 120.0, 0.15, 0.47)
    half = first_pull_data(True, 10.0, 400.0, 120.0, 0.15, 0.47, backlog_share=0.5)
    none = first_pull_data(True, 10.0, 400.0, 120.0, 0.15, 0.47, backlog_share=0.0)
    text, faces = DATA_TYPES.index("text_tokens"), DATA_TYPES.index("face_images")
    assert none[text] == 400.0 and none[faces] == 1.0  # the profile and its photo
    assert half[text] - 400.0 == 0.5 * (full[text] - 400.0) == 600.0
    np.testing.assert_allclose(half - none, 0.5 * (full - none), rtol=0, atol=1e-12)
    assert half[DATA_TYPES.index("profiles")] == full[DATA_TYPES.index("profiles")] == 1.0


def test_backlog_share_halves_the_backlog_in_the_first_pull_of_a_run():
    """On the first pull day the set takes profiles, the backlog and the posts since the start; the
    same members are pulled whatever the share (it changes no behaviour), so the backlog's part is
    the difference from a run with share 0."""
    day = {share: _records(f"training.backlog_share={share}")[FIRST_DAY, US] for share in (0.0, 0.5, 1.0)}
    for metric in ("dataset_text_tokens", "dataset_face_images", "dataset_other_images"):
        k = INDEX[metric]
        backlog = day[1.0][k] - day[0.0][k]
        assert backlog > 0, metric
        assert day[0.5][k] - day[0.0][k] == pytest.approx(0.5 * backlog, rel=1e-9), metric
    profiles = INDEX["dataset_profiles"]
    assert day[0.5][profiles] == day[1.0][profiles] == day[0.0][profiles]
    # after the first pull, the new posts are taken whole: the weekly increments are the same
    later = {s: _series(_records(f"training.backlog_share={s}"), US, "dataset_text_tokens") for s in (0.5, 1.0)}
    np.testing.assert_allclose(np.diff(later[0.5][FIRST_DAY + 1 :]), np.diff(later[1.0][FIRST_DAY + 1 :]), rtol=1e-9)


def test_the_new_keys_batch_as_the_stacking_module_says():
    base = batch_key(_config())
    assert batch_key(_config("training.backlog_share=0.5")) == base
    assert batch_key(_config("population.post_rate_scale=1.5")) == base
