"""Behaviour beyond the toggle (docs/ODD.md §7.10-7.15): each mechanism does what it should.

Salience gives a spike of action that decays; guidance converts more at the same reach; coverage
brings dormant members back; concern shifts are bounded and reverse; deleting old posts shrinks
the first pull but never what was ingested; closed accounts add nothing; joiners and members
turning 18 change the eligible count by the configured amounts; flows sum to their cumulative metrics.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config, run_cached

from sim.model.engine import ConsentModel
from sim.model.metrics import INDEX
from sim.model.random_streams import NEVER
from sim.model.rules import concern, friction, guidance, membership, reactions, salience
from sim.model.rules.consent import INDIFFERENT, OBJECT
from sim.run.compose import EVERY_MECHANISM_OFF, EVERY_MECHANISM_ON

ALL_ON = EVERY_MECHANISM_ON
ALL_OFF = EVERY_MECHANISM_OFF
EVENT_DAY = "2025-05-01"  # a quiet stretch of the shipped timeline (no policy event from March to August 2025)


def _event(guidance_share: float | None = None, level: str = "high") -> str:
    extra = "" if guidance_share is None else f",guidance:{guidance_share}"
    return f"awareness.media.extra_events=[{{date:'{EVENT_DAY}',regions:[all],level:{level}{extra}}}]"


def _day(model, date: str) -> int:
    return int(np.flatnonzero(model.dates == np.datetime64(date))[0])


def _series(model, metric: str) -> np.ndarray:
    return model.records[:, -1, INDEX[metric]]


# ---------------------------------------------------------------- rules
def test_salience_decays_by_half_life_and_scales_a_probability_within_bounds():
    assert salience.decayed(2.0, 5, 5.0) == pytest.approx(1.0)
    assert salience.raised(4.5, 1.0, 5.0) == 5.0
    assert salience.scaled_probability(0.3, 0.0, 1.0) == pytest.approx(0.3)
    p = salience.scaled_probability(np.array([0.1, 0.5, 0.99]), 3.0, 1.0)
    assert np.all((p > [0.1, 0.5, 0.99]) & (p <= 1.0))


def test_guidance_raises_the_search_offset_of_guided_members_only_and_never_lowers_it():
    offset = np.array([0.5, 0.5, 2.0, 2.0])
    guided = np.array([True, False, True, False])
    np.testing.assert_allclose(guidance.guided_offset(offset, guided, 1.2), [1.2, 0.5, 2.0, 2.0])
    np.testing.assert_allclose(guidance.guided_offset(offset, False, 9.0), offset)
    assert guidance.guided_offset(0.3, True, 0.0) == 0.3


def test_concern_pressure_is_bounded_and_fades_without_coverage():
    shocks = np.zeros((400, 1))
    shocks[10:40] = 0.08  # a month of heavy coverage
    level = concern.pressure(shocks, 30.0)
    share = concern.objecting_share(level, 1.0, 0.1)
    assert share.max() == pytest.approx(0.1)  # bounded
    assert share[-1, 0] < 0.01 * share.max()  # reverses without coverage
    base = np.array([INDIFFERENT, OBJECT, INDIFFERENT])
    np.testing.assert_array_equal(concern.shifted_preference(base, np.array([0.05, 0.5, 0.5]), 0.1), [1, 1, 0])


def test_deleting_old_posts_shrinks_the_backlog_by_the_kept_share():
    code = reactions.kept_code(0.5)
    assert reactions.backlog_after_deletion(100.0, code) == pytest.approx(50.0, rel=0.01)
    assert reactions.backlog_after_deletion(100.0, reactions.KEPT_ALL) == 100.0


def test_closing_days_follow_the_yearly_rate():
    rng = np.random.default_rng(0)
    days = membership.closing_days(rng, np.zeros(200_000, np.int64), 0.1)
    assert np.mean(days <= 365) == pytest.approx(0.1, abs=0.005)
    assert np.all(membership.closing_days(rng, np.zeros(3, np.int64), 0.0) == membership.NEVER_DAY)


# ---------------------------------------------------------------- the model
def test_every_mechanism_ships_on_and_switching_them_all_off_gives_the_core_model():
    # every mechanism ships on (docs/ODD.md §7.9a): the shipped run is the run with all switched on
    shipped = run_cached("end=2025-03-31")
    on = run_cached("end=2025-03-31", *ALL_ON)
    np.testing.assert_array_equal(shipped.records, on.records)
    # all switched off is the core model (guarded by the regression baseline with mechanisms off),
    # which differs from the shipped one
    off = run_cached("end=2025-03-31", *ALL_OFF)
    assert not np.array_equal(shipped.records, off.records, equal_nan=True)


def test_a_guided_campaign_converts_more_than_an_unguided_one_of_the_same_reach():
    # printed steps help where a guided search beats the unguided one (ODD §7.11: a guided member
    # uses the larger offset); the guided offset is set above the shipped unguided one here, since at
    # the fitted values the two may be equal or the other way round (then guidance changes nothing)
    guided_offset = min(make_config().friction.motivated_search_offset + 2.0, 30.0)
    common = ("end=2025-07-31", "guidance.enabled=true", "guidance.coverage_share=0", "guidance.word_of_mouth_share=0",
              f"guidance.search_offset={guided_offset}")  # fmt: skip
    guided = run_cached(*common, _event(1.0))
    unguided = run_cached(*common, _event(0.0))
    after = _day(guided, EVENT_DAY)
    # the same reach: the same exposures (awareness differs later only by word of mouth from those who acted)
    until = slice(0, after + 1)
    np.testing.assert_array_equal(_series(guided, "aware_share")[until], _series(unguided, "aware_share")[until])
    np.testing.assert_allclose(_series(guided, "aware_share"), _series(unguided, "aware_share"), atol=0.005)
    assert _series(guided, "guided_share").max() > 0.05
    assert _series(unguided, "guided_share").max() == 0
    gained = _series(guided, "opted_out_share")[-1] - _series(guided, "opted_out_share")[after - 1]
    gained_unguided = _series(unguided, "opted_out_share")[-1] - _series(unguided, "opted_out_share")[after - 1]
    # more, by no more than a guided attempt's success over an unguided one's for the median member
    # (persistence converts part of the difference anyway)
    cfg = make_config(*common).friction
    steps = [st.difficulty for st in cfg.routes["settings_toggle"].steps]

    def success(offset):
        searched = friction.searched_difficulty(steps, offset, cfg.hidden_above)
        return friction.route_completion_probability(0.5, searched, cfg.skill_weight)

    assert gained_unguided < gained < gained_unguided * success(guided_offset) / success(cfg.motivated_search_offset)


def test_a_campaigns_daily_opt_outs_spike_and_then_decay():
    # a campaign with how-to content; 100,000 agents so that a day's opt-outs are more than a handful of agents
    on = ("salience.enabled=true", "return_visits.enabled=true", "guidance.enabled=true", "population.agents=100000")
    model = run_cached("end=2025-07-31", *on, _event())
    flow = _series(model, "new_opt_outs")
    t0 = _day(model, EVENT_DAY)
    before, first_week, later = flow[t0 - 28 : t0].mean(), flow[t0 : t0 + 7].mean(), flow[t0 + 49 : t0 + 77].mean()
    assert first_week > 3 * before
    assert later < 0.5 * first_week


def test_coverage_brings_dormant_members_back():
    def dormant_visited(*overrides):
        model = run_cached("end=2025-05-15", _event(), *overrides)
        dormant = model.pop.eligible & (model.pop.visit_prob < 0.002)
        return np.mean(model.state.last_visit[dormant] >= _day(model, EVENT_DAY))

    # return_visits on vs off, the other mechanisms as shipped
    assert dormant_visited() > 2 * dormant_visited("return_visits.enabled=false")


def test_concern_shift_is_bounded_and_reverses_without_coverage():
    # concern isolated: every other mechanism switched off (membership, reactions and opt-in interest
    # change who is eligible and who objects, which would blur the shift this test bounds)
    model = run_cached(
        "end=2026-12-31", *ALL_OFF, "concern.enabled=true", "concern.sensitivity=10", "concern.max_share=0.05",
        "concern.memory_days=20",
    )  # fmt: skip
    base = run_cached("end=2026-12-31", *ALL_OFF)
    shift = _series(model, "objector_share") - _series(base, "objector_share")
    indifferent = np.mean(base.pop.preference[base.pop.eligible] == INDIFFERENT)
    assert shift.max() > 0.5 * 0.05 * indifferent
    assert shift.max() <= 0.05 * indifferent + 0.01  # bounded (plus sampling of the thresholds)
    assert shift.min() >= 0
    assert shift[-1] < 0.1 * shift.max()  # more than a year after the last story: back


def _step_tracking(config, track):
    model = ConsentModel(config)
    while model.running:
        model.step()
        track(model)
    return model


def test_deleting_old_posts_lowers_the_first_pull_but_never_what_was_ingested():
    on = ("reactions.delete_old_posts.enabled=true", "reactions.delete_old_posts.share=0.5", "end=2025-03-31")
    previous = {}

    def never_shrinks(model):
        now = model.ingested_of(np.arange(model.pop.n)).sum(axis=1)
        if "x" in previous:
            assert np.all(now >= previous["x"] - 1e-3)
        previous["x"] = now.copy()

    # delete_old_posts on (at a share of 0.5) vs off, the other mechanisms as shipped
    deleting = _step_tracking(make_config(*on), never_shrinks)
    keeping = run_cached("end=2025-03-31", "reactions.delete_old_posts.enabled=false")
    assert _series(deleting, "posts_deleted")[-1] > 0
    assert _series(deleting, "dataset_text_tokens")[-1] < _series(keeping, "dataset_text_tokens")[-1]
    assert np.all(np.diff(_series(deleting, "dataset_text_tokens")) >= 0)


def test_closed_accounts_add_no_data_after_closing():
    at_close: dict[int, np.ndarray] = {}

    def snapshot(model):
        if model.day >= model.n_days:
            return
        closing = np.flatnonzero(model.state.closed_day == model.day)  # closed from the next day on
        for i in closing:
            at_close[int(i)] = model.ingested_of(np.array([i]))[0]

    config = make_config(
        "reactions.close_account.enabled=true", "reactions.close_account.share=0.2", "end=2025-06-30",
        "membership.enabled=true",
    )  # fmt: skip
    model = _step_tracking(config, snapshot)
    assert len(at_close) > 50
    members = np.array(sorted(at_close))
    np.testing.assert_array_equal(model.ingested_of(members), np.stack([at_close[i] for i in members]))
    assert not model.pop.eligible[members].any()
    assert np.all(model.state.next_visit[members] == NEVER)
    assert _series(model, "accounts_closed")[-1] > 0


def test_joiners_and_members_turning_18_change_eligible_counts_by_the_configured_amounts():
    growth = 0.1
    # membership isolated: every other mechanism switched off (reactions close accounts, which the
    # expected eligible count here leaves out; closures by membership itself are set to zero)
    model = run_cached(*ALL_OFF, "membership.enabled=true", f"membership.growth_per_year.default={growth}",
                       "membership.dormant_close_per_year=0")  # fmt: skip
    pop, s, days = model.pop, model.state, model.n_days
    start = pop.start_agents
    joiners = np.array([np.count_nonzero(s.join_day[sl] > 0) for sl in pop.slices])
    np.testing.assert_array_equal(joiners, np.round(start * growth * days / 365.25))
    assert np.all(s.join_day[s.join_day > 0] < days)  # every joiner joins within the horizon
    minors_at_start = (s.join_day == 0) & (s.adult_day > 0)
    assert minors_at_start.any() and np.all(s.adult_day[minors_at_start] <= 730)  # turn 18 within two years
    weight = pop.weight_by_region
    eligible_start = np.array([np.count_nonzero((s.join_day[sl] == 0) & (s.adult_day[sl] == 0)) for sl in pop.slices])
    eligible_end = np.array([np.count_nonzero(pop.eligible[sl]) for sl in pop.slices])
    expected_end = (
        eligible_start
        + np.array([np.count_nonzero(minors_at_start[sl]) for sl in pop.slices])
        + np.array([np.count_nonzero((s.join_day[sl] > 0) & (s.adult_day[sl] < days)) for sl in pop.slices])
    )
    np.testing.assert_array_equal(eligible_end, expected_end)
    assert model.records[0, -1, INDEX["eligible_members"]] == pytest.approx((eligible_start * weight).sum())
    assert model.records[-1, -1, INDEX["eligible_members"]] == pytest.approx((eligible_end * weight).sum())
    members = model.records[:, -1, INDEX["members"]]
    assert members[-1] == pytest.approx(members[0] + model.records[-1, -1, INDEX["members_joined"]])


FLOWS = (
    ("new_opt_outs", "opt_outs_recorded"),
    ("new_opt_ins", "opt_ins_recorded"),
    ("new_members", "members_joined"),
    ("accounts_closed_today", "accounts_closed"),
    ("posts_deleted_today", "posts_deleted"),
    ("new_text_tokens", "dataset_text_tokens"),
    ("new_face_images", "dataset_face_images"),
    ("new_profiles", "dataset_profiles"),
)


@pytest.mark.parametrize("flow,cumulative", FLOWS)
def test_flows_sum_to_the_change_in_their_cumulative_metric(flow, cumulative):
    model = run_cached(*ALL_ON)
    for region in range(model.records.shape[1]):
        np.testing.assert_allclose(
            np.cumsum(model.records[:, region, INDEX[flow]]), model.records[:, region, INDEX[cumulative]], rtol=1e-9
        )


def test_every_mechanism_on_moves_people_and_keeps_state_small():
    # every mechanism on (as shipped) vs every mechanism off (the core model)
    on, off = run_cached(*ALL_ON), run_cached(*ALL_OFF)
    last = {name: (on.records[-1, -1, INDEX[name]], off.records[-1, -1, INDEX[name]]) for name in INDEX}
    assert last["opted_out_share"][0] > last["opted_out_share"][1]
    assert last["members"][0] > last["members"][1]
    assert last["accounts_closed"][0] > 0 and last["posts_deleted"][0] > 0
    assert 0 < last["active_members"][0] < last["eligible_members"][0]
    assert on.state.nbytes / on.pop.n <= 64
