"""Deadlines (docs/ODD.md §7.18, issue 26 item 4): urgency rises as a policy event's deadline nears
and ends after it; a run with a deadline shows more opt-outs in the weeks before it, rising as it
nears, and none extra after it (ANCHORS 9's shape), against the same run without."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import compose_raw, make_config, run_cached

from sim.model.config import ConfigError, validate_config
from sim.model.metrics import INDEX
from sim.model.regions import REGION_CODES
from sim.model.rules import deadline
from sim.run.compose import EVERY_MECHANISM_OFF


# ---------------------------------------------------------------- the rule
def test_urgency_is_hyperbolic_in_the_days_left_and_zero_after_the_deadline():
    tau = 14.0
    assert deadline.urgency(0, tau) == 1.0  # the deadline's day: the last day acting counts
    assert deadline.urgency(14, tau) == pytest.approx(0.5)
    assert deadline.urgency(28, tau) == pytest.approx(1 / 3)
    assert deadline.urgency(7, tau) == pytest.approx(2 / 3)
    assert deadline.urgency(-1, tau) == 0.0  # after it, or none ahead (NO_DEADLINE)
    days = np.arange(0, 120)
    u = deadline.urgency(days, tau)
    assert (np.diff(u) < 0).all() and (u > 0).all() and (u <= 1).all()  # rises as the deadline nears
    np.testing.assert_allclose(deadline.urgency(days, 7.0), 1 / (1 + days / 7.0))


def test_the_cue_is_its_chance_on_the_day_times_the_urgency_and_sums_to_the_log_rule():
    assert deadline.cue_probability(0.02, deadline.urgency(0, 14.0)) == pytest.approx(0.02)
    assert deadline.cue_probability(0.02, deadline.urgency(14, 14.0)) == pytest.approx(0.01)
    assert deadline.cue_probability(0.02, deadline.urgency(-1, 14.0)) == 0.0  # after it: no cue
    # the days before a close sum to about a x tau x ln(1 + D / tau) (the integral of the urgency)
    for window in (77, 200):
        approx = 0.01 * 14.0 * np.log(1 + window / 14.0)
        assert deadline.expected_cues(0.01, 14.0, window) == pytest.approx(approx, rel=0.1)
    # most of it in the last weeks: the last 11 weeks of a 200-day window carry over half its cues
    assert deadline.expected_cues(0.01, 14.0, 77) > 0.5 * deadline.expected_cues(0.01, 14.0, 200)


# ---------------------------------------------------------------- the config
def _with_deadline(date: str, deadline_date: str):
    raw = compose_raw()
    raw["policy"]["events"][2]["deadline"] = deadline_date  # the 2024-11-20 notice to every region
    raw["policy"]["events"][2]["date"] = date
    return validate_config(raw)


def test_a_deadline_must_come_after_its_event_within_the_horizon_or_not():
    with pytest.raises(ConfigError, match="deadline"):
        _with_deadline("2024-11-20", "2024-11-20")
    with pytest.raises(ConfigError, match="deadline"):
        _with_deadline("2024-11-20", "2024-11-01")
    assert _with_deadline("2024-11-20", "2030-01-01").policy.events[2].deadline == dt.date(2030, 1, 1)


def test_the_shipped_announcement_carries_trainings_start_as_its_deadline():
    events = {e.date.isoformat(): e for e in make_config().policy.events}
    assert events["2025-09-18"].deadline == dt.date(2025, 11, 3)
    assert [d for d, e in events.items() if e.deadline is not None] == ["2025-09-18"]
    assert make_config().deadline.enabled is True  # every behaviour ships on


# ---------------------------------------------------------------- the behaviour
LATE = [REGION_CODES.index(c) for c in ("EU_EEA", "UK", "CH", "CA", "HK")]
# Other mechanisms off, so the comparison is the deadline's alone; the toggle only, so an opt-out
# takes effect the day it is made (the objection form's 30-day wait would move opt-outs made before
# the deadline to after it); a floor of 4,000 agents in each small region, so a window's opt-outs
# are hundreds of agents.
RUN = (*EVERY_MECHANISM_OFF, "population.agents=50000", "population.min_agents_per_region=4000",
       "end=2025-12-31", "policy.route_override=settings_toggle")  # fmt: skip


def _opt_outs(model, first: str, last: str) -> float:
    """Opt-outs between two dates (both included), as a share of eligible, averaged over the late regions."""
    share = np.r_[0.0, model.records[:, LATE, INDEX["opted_out_share"]].mean(axis=1)]  # share[k + 1]: day k
    day = {str(d): k for k, d in enumerate(model.dates)}
    return share[day[last] + 1] - share[day[first]]


def test_a_deadline_raises_opt_outs_as_it_nears_and_not_after_it():
    on = run_cached(*RUN, "deadline.enabled=true", small=False)
    off = run_cached(*RUN, "deadline.enabled=false", small=False)
    windows = {
        "first weeks": ("2025-09-18", "2025-10-08"),  # the announcement, 46-26 days ahead
        "last weeks": ("2025-10-14", "2025-11-03"),  # the three weeks up to training's start
        "after": ("2025-11-04", "2025-12-29"),  # eight weeks after it
    }
    ratio = {name: _opt_outs(on, *w) / _opt_outs(off, *w) for name, w in windows.items()}
    assert ratio["first weeks"] > 1.0  # a deadline ahead: some urgency from its announcement
    assert ratio["last weeks"] > ratio["first weeks"]  # rising as it nears
    assert ratio["after"] <= 1.0  # none after: urgency ends, and those who acted early are done
    before = slice(0, int(np.flatnonzero(on.dates == np.datetime64("2025-09-18"))[0]))
    np.testing.assert_array_equal(on.records[before], off.records[before])  # nothing before it is announced
    u = on.records[:, LATE, INDEX["deadline_urgency"]]
    assert u.max() == 1.0 and (u[on.dates > np.datetime64("2025-11-03")] == 0).all()
    assert (off.records[:, :, INDEX["deadline_urgency"]] == 0).all()


# A notice with a deadline a month ahead on a quiet day: no media, no word of mouth, the one-step
# toggle; members who give up after a failure are a thousandth (so a member cued stays cued).
RETRY = (*EVERY_MECHANISM_OFF, "deadline.enabled=true", "policy.initial.route=prominent_toggle",
         "awareness.media.base_per_day.default=0", "awareness.word_of_mouth.strength=0",
         "friction.attempts_per_intent=1000", "end=2024-10-20",
         "policy.events=[{date:'2024-09-11',regions:[all],regime:default_on,notice:[email],"
         "deadline:'2024-10-11'}]")  # fmt: skip
NOTICE, CLOSE = 10, 40  # the notice's day and the deadline's, from the default start (2024-09-01)


def _given_up_then_stepped(act_prob: float, days: int):
    from sim.model.engine import ConsentModel
    from sim.model.rules.consent import OBJECT, OPTED_OUT

    model = ConsentModel(make_config(*RETRY, f"deadline.act_prob={act_prob}"))
    while model.day <= NOTICE:
        model.step()
    s, pop = model.state, model.pop
    gave_up = np.flatnonzero(pop.eligible & (pop.preference == OBJECT) & (s.aware_since >= 0) & (s.choice != OPTED_OUT))
    s.gave_up[gave_up] = True  # every aware objector who has not refused gives up
    s.intent_until[gave_up] = -1
    first = model.day
    for _ in range(days):
        model.step()
    came_back = ~s.gave_up[gave_up] | (s.choice[gave_up] == OPTED_OUT)
    return gave_up, came_back, range(first, model.day)


def test_a_deadline_brings_back_members_who_gave_up_at_its_cue_rate():
    """A last chance ends giving up (docs/ODD.md §7.18): each day a given-up member who still wants to
    refuse is cued with chance a x u(d), so the share back within the days stepped is 1 - prod(1 - a u)."""
    gave_up, came_back, days = _given_up_then_stepped(0.3, 10)
    expected = 1 - np.prod([1 - deadline.cue_probability(0.3, deadline.urgency(CLOSE - t, 14.0)) for t in days])
    sd = np.sqrt(expected * (1 - expected) / gave_up.size)
    assert gave_up.size > 200
    assert came_back.mean() == pytest.approx(expected, abs=4 * sd)
    _, none_back, _ = _given_up_then_stepped(0.0, 10)
    assert not none_back.any()  # without the cue, giving up is for good
