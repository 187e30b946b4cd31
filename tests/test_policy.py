"""Region policies compiled into per-day tables (sim.model.policy) against the real timeline."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import make_config

from sim.model.policy import compile_policy, media_events
from sim.model.regimes import AFFIRMATIVE, DEFAULT_ON, EXCLUDED, FORCED_CHOICE, NO_OPTION
from sim.model.regions import REGION_CODES

START = dt.date(2024, 9, 1)
END = dt.date(2026, 12, 31)
N_DAYS = (END - START).days + 1
LATE_JOINERS = ("EU_EEA", "CH", "CA", "HK")  # trained from 2025-11-03 (the UK too, after its pause)
EARLY = ("US", "IN", "BR", "ROW")  # default-on from 2024-09-18


def day(date: str) -> int:
    return (dt.date.fromisoformat(date) - START).days


def col(code: str) -> int:
    return REGION_CODES.index(code)


def table(policy: str = "linkedin_actual", start: dt.date = START, n_days: int = N_DAYS):
    cfg = make_config(f"policy={policy}")
    return compile_policy(cfg.policy, start, n_days, list(cfg.friction.routes))


@pytest.fixture(scope="module")
def actual():
    return table()


def test_tables_cover_every_day_and_region(actual):
    assert (
        actual.regime.shape
        == actual.training.shape
        == actual.routes_out.shape
        == actual.routes_in.shape
        == (N_DAYS, len(REGION_CODES))
    )
    assert actual.regime.dtype == np.int8 and actual.training.dtype == bool


def test_mainland_china_is_excluded_every_day(actual):
    cn = col("CN")
    assert np.all(actual.regime[:, cn] == EXCLUDED)
    assert not actual.training[:, cn].any()


def test_nothing_trains_and_everyone_is_excluded_before_2024_09_18(actual):
    assert np.all(actual.regime[: day("2024-09-18")] == EXCLUDED)
    assert not actual.training[: day("2024-09-18")].any()


@pytest.mark.parametrize("code", EARLY)
def test_us_india_brazil_and_rest_of_world_are_default_on_and_train_from_2024_09_18(actual, code):
    r, d = col(code), day("2024-09-18")
    assert np.all(actual.regime[d:, r] == DEFAULT_ON)
    assert actual.training[d:, r].all()
    assert not actual.training[:d, r].any()


@pytest.mark.parametrize("code", LATE_JOINERS)
def test_gdpr_like_regions_do_not_train_before_2025_11_03_and_train_from_then(actual, code):
    r = col(code)
    assert not actual.training[: day("2025-11-03"), r].any()
    assert actual.training[day("2025-11-03") :, r].all()
    # the setting opens, on by default, with the announcement of 2025-09-18
    assert np.all(actual.regime[: day("2025-09-18"), r] == EXCLUDED)
    assert np.all(actual.regime[day("2025-09-18") :, r] == DEFAULT_ON)


def test_uk_is_default_on_two_days_then_excluded_until_the_announcement(actual):
    uk = col("UK")
    regime, training = actual.regime[:, uk], actual.training[:, uk]
    on = np.flatnonzero(training[: day("2025-09-18")])
    assert on.tolist() == [day("2024-09-18"), day("2024-09-19")]
    assert np.all(regime[day("2024-09-18") : day("2024-09-20")] == DEFAULT_ON)
    assert np.all(regime[day("2024-09-20") : day("2025-09-18")] == EXCLUDED)
    assert np.all(regime[day("2025-09-18") :] == DEFAULT_ON)
    assert not training[day("2024-09-20") : day("2025-11-03")].any()
    assert training[day("2025-11-03") :].all()


def test_training_starts_on_the_first_day_of_each_training_phase(actual):
    starts = {d: np.flatnonzero(actual.training_starts(d)).tolist() for d in range(N_DAYS)}
    starts = {d: r for d, r in starts.items() if r}
    assert starts == {
        day("2024-09-18"): sorted(col(c) for c in (*EARLY, "UK")),
        day("2025-11-03"): sorted(col(c) for c in (*LATE_JOINERS, "UK")),
    }


def bit(t, name):
    return 1 << t.route_names.index(name)


def test_the_real_routes_are_the_toggle_and_from_the_announcement_the_form_in_the_late_regions(actual):
    toggle, form = bit(actual, "settings_toggle"), bit(actual, "objection_form")
    assert np.all(actual.routes_in == toggle)  # opting in: the toggle only
    late = [col(c) for c in (*LATE_JOINERS, "UK")]
    early = [r for r in range(len(REGION_CODES)) if r not in late]
    assert np.all(actual.routes_out[:, early] == toggle)
    announced = day("2025-09-18")
    assert np.all(actual.routes_out[:announced, late] == toggle)
    assert np.all(actual.routes_out[announced:, late] == toggle | form)  # both open (ANCHORS 8)


def _notices(t):
    return sorted((n.day, REGION_CODES[n.region], tuple(sorted(n.channels))) for n in t.notices)


def test_notices_fire_on_the_days_of_the_timeline(actual):
    expected = [(day("2024-11-20"), code, ("email",)) for code in REGION_CODES]
    expected += [(day("2025-09-18"), code, ("email", "in_app")) for code in ("EU_EEA", "UK", "CH", "CA", "HK")]
    assert _notices(actual) == sorted(expected)


def test_affirmative_consent_fires_a_consent_request_on_entering_it():
    t = table("affirmative_everywhere")
    expected = [(day("2024-09-18"), c, ("prompt",)) for c in ("US", "UK", "IN", "BR", "ROW")]
    expected += [(day("2024-11-20"), c, ("email",)) for c in REGION_CODES]  # no new request: still affirmative
    expected += [(day("2025-09-18"), c, ("email", "in_app", "prompt")) for c in ("EU_EEA", "UK", "CH", "CA", "HK")]
    assert _notices(t) == sorted(expected)


@pytest.mark.parametrize(
    ("policy", "new_regime"),
    [
        ("affirmative_everywhere", AFFIRMATIVE),
        ("forced_choice_everywhere", FORCED_CHOICE),
        ("no_option_everywhere", NO_OPTION),
    ],
)
def test_everywhere_substitutions_replace_default_on_and_keep_dates_and_training(actual, policy, new_regime):
    t = table(policy)
    expected = np.where(actual.regime == DEFAULT_ON, new_regime, actual.regime)
    np.testing.assert_array_equal(t.regime, expected)
    np.testing.assert_array_equal(t.training, actual.training)
    np.testing.assert_array_equal(t.routes_out, actual.routes_out)
    np.testing.assert_array_equal(t.routes_in, actual.routes_in)
    assert np.all(t.regime[:, col("CN")] == EXCLUDED)


def test_eu_affirmative_changes_only_the_eu(actual):
    t = table("eu_affirmative")
    eu = col("EU_EEA")
    others = [r for r in range(len(REGION_CODES)) if r != eu]
    np.testing.assert_array_equal(t.regime[:, others], actual.regime[:, others])
    expected = np.where(actual.regime[:, eu] == DEFAULT_ON, AFFIRMATIVE, actual.regime[:, eu])
    np.testing.assert_array_equal(t.regime[:, eu], expected)
    assert np.all(t.regime[day("2025-09-18") :, eu] == AFFIRMATIVE)
    np.testing.assert_array_equal(t.training, actual.training)


def test_prominent_toggle_changes_the_route_only(actual):
    t = table("prominent_toggle")
    np.testing.assert_array_equal(t.regime, actual.regime)
    np.testing.assert_array_equal(t.training, actual.training)
    # the settings toggle is replaced by the prominent one; the objection form stays where it was open
    prominent, toggle = bit(t, "prominent_toggle"), bit(actual, "settings_toggle")
    assert np.all(t.routes_in == prominent)
    np.testing.assert_array_equal(t.routes_out, actual.routes_out - toggle + prominent)


def test_a_substitution_to_excluded_stops_training():
    cfg = make_config("policy.substitutions=[{regions:[US],regime:{default_on:excluded}}]")
    t = compile_policy(cfg.policy, START, N_DAYS, list(cfg.friction.routes))
    us = col("US")
    assert np.all(t.regime[:, us] == EXCLUDED)
    assert not t.training[:, us].any()
    assert t.training[:, col("IN")].any()


def test_phases_that_began_before_the_start_are_in_force_on_day_zero():
    late = dt.date(2025, 1, 1)
    t = table(start=late, n_days=400)
    assert t.regime[0, col("US")] == DEFAULT_ON and t.training[0, col("US")]
    assert t.regime[0, col("UK")] == EXCLUDED and not t.training[0, col("UK")]
    np.testing.assert_array_equal(t.training_starts(0), t.training[0])
    # only notices inside the horizon fire
    assert {n.day for n in t.notices} == {(dt.date(2025, 9, 18) - late).days}


def test_a_short_horizon_ignores_later_events():
    t = table(n_days=10)
    assert t.regime.shape == (10, len(REGION_CODES))
    assert np.all(t.regime == EXCLUDED) and not t.notices


def test_media_events_of_the_timeline():
    events = media_events(make_config().policy)
    by_date = {}
    for date, code, level in events:
        by_date.setdefault((str(date), level), set()).add(code)
    assert by_date[("2024-09-18", "high")] == {"US", "IN", "BR", "ROW", "UK"}
    assert by_date[("2024-09-20", "moderate")] == {"UK"}
    assert by_date[("2024-11-20", "moderate")] == set(REGION_CODES)
    assert by_date[("2025-09-18", "high")] == by_date[("2025-11-03", "high")] == {"EU_EEA", "UK", "CH", "CA", "HK"}


def test_a_deadline_is_compiled_as_the_days_left_in_the_regions_it_names(actual):
    from sim.model.policy import NO_DEADLINE

    left = actual.deadline_days
    assert left.shape == actual.regime.shape and left.dtype == np.int32
    for code in LATE_JOINERS + ("UK",):
        c = col(code)
        assert (left[: day("2025-09-18"), c] == NO_DEADLINE).all()  # not before it is announced
        assert left[day("2025-09-18"), c] == 46 and left[day("2025-11-03"), c] == 0
        np.testing.assert_array_equal(np.diff(left[day("2025-09-18") : day("2025-11-03") + 1, c]), -1)
        assert (left[day("2025-11-04") :, c] == NO_DEADLINE).all()  # none after it
    for code in (*EARLY, "CN"):
        assert (left[:, col(code)] == NO_DEADLINE).all()


def _deadline_policy(*events):
    from conftest import compose_raw

    from sim.model.config import validate_config

    raw = compose_raw()
    raw["policy"]["events"] = [*raw["policy"]["events"], *events]
    return validate_config(raw).policy


def test_a_later_deadline_replaces_an_earlier_one_and_one_beyond_the_horizon_counts_down_to_it():
    from sim.model.policy import NO_DEADLINE, deadline_days

    policy = _deadline_policy(
        {"date": "2025-01-10", "regions": ["CN"], "deadline": "2025-02-01"},
        {"date": "2025-01-20", "regions": ["CN"], "deadline": "2025-03-01", "label": "an extension"},
        {"date": "2026-12-01", "regions": ["US"], "deadline": "2027-06-30"},
    )
    left = deadline_days(policy, START, N_DAYS)
    cn, us = col("CN"), col("US")
    assert left[day("2025-01-10"), cn] == 22 and left[day("2025-01-19"), cn] == 13
    assert left[day("2025-01-20"), cn] == (dt.date(2025, 3, 1) - dt.date(2025, 1, 20)).days  # extended
    assert left[day("2025-02-02"), cn] > 0 and left[day("2025-03-01"), cn] == 0
    assert left[day("2025-03-02"), cn] == NO_DEADLINE
    assert left[-1, us] == (dt.date(2027, 6, 30) - END).days  # beyond the horizon: still ahead
    # the same compiled for a later start: phases before the start are in force on day 0
    late = deadline_days(policy, dt.date(2025, 1, 15), 30)
    assert late[0, cn] == 17 and late[5, cn] == (dt.date(2025, 3, 1) - dt.date(2025, 1, 20)).days


def test_stacked_policies_lay_their_deadlines_side_by_side(actual):
    from sim.model.stacking import stack_policies

    stacked = stack_policies([actual, actual])
    np.testing.assert_array_equal(stacked.deadline_days, np.hstack([actual.deadline_days] * 2))
