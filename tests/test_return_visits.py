"""Acting from a notice or a story (docs/ODD.md §7.12, sim/model/mechanisms/return_visits.py).

The rule's equation; an analytic case (an email notice to dormant objectors: the share who visit and
act the next day); directions of effect (a notice now moves dormant members, more response gives
more opt-outs, a contact who acted brings members back); no double route (a one-click link, an in-app
notice seen on a visit); and the mechanism with its new parameters at 0 giving, bit for bit, the
records of the mechanism before them (stories only).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config, run_cached

from sim.model import engine
from sim.model.engine import ConsentModel
from sim.model.mechanisms import REGISTRY
from sim.model.mechanisms.return_visits import ReturnVisits
from sim.model.metrics import INDEX
from sim.model.rules import friction, return_visits
from sim.model.rules.consent import OBJECT, OPTED_OUT
from sim.run.compose import EVERY_MECHANISM_ON

NOTICE_DAY = "2024-09-11"  # day 10 of the default start
T0 = 10


def _notice(channels: str = "email", one_click: bool = False) -> str:
    link = ",one_click:true" if one_click else ""
    return f"policy.events=[{{date:'{NOTICE_DAY}',regions:[all],regime:default_on,notice:[{channels}]{link}}}]"


# An email notice on a quiet day: no media, no word of mouth; every exposed objector forms an intent
# that lasts, tries on every visit, and the route is one step (the prominent toggle).
QUIET_NOTICE = (
    "policy.initial.route=prominent_toggle",
    "awareness.media.base_per_day.default=0",
    "awareness.word_of_mouth.strength=0",
    "consent.object_intent_scale=10",
    "consent.intent_half_life_days=3650",
    "friction.try_prob=1",
    "return_visits.enabled=true",
    "return_visits.response_prob=0",
    "return_visits.contact_response_prob=0",
    "end=2024-09-20",
)


# ---------------------------------------------------------------- the rule
def test_the_chances_combine_as_independent_occasions():
    assert return_visits.story_chance(0.4, 0.5) == pytest.approx(0.2)
    assert return_visits.contact_chance(0.3, 0.1) == pytest.approx(0.03)
    np.testing.assert_array_equal(return_visits.notice_chance(0.3, np.array([True, False])), [0.3, 0.0])
    p = return_visits.visit_probability(0.2, 0.03, np.array([0.3, 0.0]))
    np.testing.assert_allclose(p, [1 - 0.8 * 0.97 * 0.7, 1 - 0.8 * 0.97])
    assert return_visits.visit_probability(0.0, 0.0, 0.0) == 0.0
    assert return_visits.visit_probability(1.0, 0.0, 0.0) == 1.0


# ---------------------------------------------------------------- an analytic case
def _after_notice(q: float, *extra: str, days_after: int = 1):
    """The model stepped to the notice day, the dormant objectors it moved, then stepped `days_after` more."""
    model = ConsentModel(make_config(*QUIET_NOTICE, _notice(), f"return_visits.notice_response_prob={q}", *extra))
    while model.day <= T0:
        model.step()
    s, pop = model.state, model.pop
    moved = np.flatnonzero(
        pop.eligible
        & (pop.preference == OBJECT)
        & (pop.visit_prob < 0.002)  # the dormant segment (0.001 a day)
        & (s.aware_since == T0)  # read the email (no other channel is open)
        & (s.intent_until >= T0)
        & (s.last_visit != T0)  # not on the site on the notice day
        & (s.choice != OPTED_OUT)
    )
    visits_next_day = s.next_visit[moved] == T0 + 1
    for _ in range(days_after):
        model.step()
    return model, moved, visits_next_day


def test_a_notice_brings_its_share_of_moved_dormant_objectors_the_next_day_and_they_act():
    q = 0.5
    model, moved, visits = _after_notice(q)
    assert moved.size > 1_000
    v = model.pop.visit_prob[moved].astype(np.float64)
    expected_visit = q + (1 - q) * v  # brought back, or their own visit falls on that day (memoryless)
    sd = np.sqrt(np.sum(expected_visit * (1 - expected_visit)))
    assert abs(visits.sum() - expected_visit.sum()) < 4 * sd
    # on the visit they try (try_prob 1) and pass the one step with their skill
    step = model.config.friction.routes["prominent_toggle"].steps[0].difficulty
    passes = friction.step_success_probability(model.pop.skill[moved], step, model.config.friction.skill_weight)
    expected_act = expected_visit * passes
    acted = model.state.choice[moved] == OPTED_OUT
    sd = np.sqrt(np.sum(expected_act * (1 - expected_act)))
    assert abs(acted.sum() - expected_act.sum()) < 4 * sd
    assert acted.mean() > 0.35


def test_dormant_objectors_act_after_a_notice_only_with_the_response():
    def acted_within_a_week(q):
        model, moved, _ = _after_notice(q, days_after=7)
        return np.mean(model.state.choice[moved] == OPTED_OUT)

    before, now = acted_within_a_week(0.0), acted_within_a_week(0.3)
    assert before < 0.02  # dormant: a visit in a week is under 1%
    assert now > 0.2 and now > 10 * before


@pytest.mark.parametrize("channels, one_click", [("email", True), ("in_app", False)])
def test_a_link_or_an_in_app_notice_is_its_own_route_and_brings_no_visit(channels, one_click):
    """A one-click link is the route to act (§7.6); an in-app notice is seen on a visit, where the
    member acts at once: the notice's visit made to act is for email notices without a link."""
    common = (*QUIET_NOTICE, "friction.try_prob=0.5", _notice(channels, one_click))
    without = run_cached(*common, "return_visits.notice_response_prob=0")
    with_response = run_cached(*common, "return_visits.notice_response_prob=0.9")
    np.testing.assert_array_equal(without.records, with_response.records)


# ---------------------------------------------------------------- directions of effect
def _opted_out(model, region=-1) -> float:
    return float(model.records[-1, region, INDEX["opted_out_share"]])


def test_more_response_to_notices_gives_more_opt_outs_on_the_shipped_timeline():
    common = (*EVERY_MECHANISM_ON, "policy=prominent_toggle", "end=2025-12-31")
    shares = [_opted_out(run_cached(*common, f"return_visits.notice_response_prob={q}")) for q in (0.0, 0.3, 0.9)]
    assert shares[0] < shares[1] < shares[2]


def test_a_contact_who_acted_brings_members_back():
    common = (
        "policy.initial.route=prominent_toggle",
        _notice(),
        "awareness.word_of_mouth.strength=0.5",
        "awareness.word_of_mouth.share_prob=1",
        "return_visits.enabled=true",
        "return_visits.response_prob=0",
        "return_visits.notice_response_prob=0.5",
        "end=2024-10-31",
    )

    def dormant_visited(contact):
        model = run_cached(*common, f"return_visits.contact_response_prob={contact}")
        dormant = model.pop.eligible & (model.pop.visit_prob < 0.002)
        return np.mean(model.state.last_visit[dormant] > T0 + 1)  # after the notice's own visits

    assert dormant_visited(1.0) > 1.5 * dormant_visited(0.0)


# ---------------------------------------------------------------- bit-identity with the mechanism before
class StoriesOnly(ReturnVisits):
    """return_visits as it was before notices and contacts (commit 1f8d982): its one hook, verbatim."""

    told = after_intent = None  # hooks not defined (sim.model.mechanisms.base.overrides_hook)

    def after_exposure(self, t, exposed, from_notice):
        m = self.model
        p = self.param("response_prob", exposed) * self.event_prob[t].take(m.pop.region[exposed])
        hit = p > 0
        back = exposed[hit][m.streams.uniform("return_visit", exposed[hit], t) < p[hit]]
        m.state.next_visit[back] = np.minimum(m.state.next_visit[back], t + 1)


def test_with_the_new_parameters_at_zero_the_records_are_those_of_stories_only(monkeypatch):
    common = (*EVERY_MECHANISM_ON, "population.agents=6000", "population.min_agents_per_region=300", "end=2025-12-31")

    def records(*overrides, kind=ReturnVisits):
        model = ConsentModel(make_config(*common, *overrides))
        assert type(model.mechanism("return_visits")) is kind
        while model.running:
            model.step()
        return model.records

    zero = ("return_visits.notice_response_prob=0", "return_visits.contact_response_prob=0")
    now = records(*zero)
    # the new parameters do move the same run
    assert not np.array_equal(records(), now, equal_nan=True)
    monkeypatch.setattr(engine, "REGISTRY", tuple(StoriesOnly if m is ReturnVisits else m for m in REGISTRY))
    np.testing.assert_array_equal(now, records(*zero, kind=StoriesOnly))
