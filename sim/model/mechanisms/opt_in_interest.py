"""Opting in unasked (docs/ODD.md §7.17): an accepter who has heard of the data use (an exposure:
media, word of mouth, a notice) and is not enrolled sets out to opt in at a yearly rate
`rate_per_year` (sim.model.rules.opt_in_interest), through the region's opt-in route with its
friction, like any intent. Switched on, it replaces the fixed chance per exposure
`consent.accept_intent_prob`: an accepter's intent to opt in comes from here only.

Event-time form: at a member's first exposure the day they set out is drawn (geometric, daily chance
h); on that day, if they are still an eligible accepter not enrolled, with an opt-in route open and
not given up, they set out: they form an intent (lasting as any intent, `consent.intent_half_life_days`)
and come to the site that day to take the route (`ConsentModel.set_out_to_act`: a visit made to
act, on which they try; setting out is a plan carried out, not a reaction to news that waits for a
visit the member would make anyway, which for most members comes once in years); either way the next
day is drawn. Under a default that enrols them the draw does nothing.
"""

from __future__ import annotations

import numpy as np

from sim.model.days import NEVER, NOT_YET
from sim.model.declarations import StateField
from sim.model.mechanisms.base import Mechanism
from sim.model.rules import consent, membership
from sim.model.rules import opt_in_interest as rule
from sim.model.rules.consent import ACCEPT, OPTED_IN
from sim.model.schema import Probability, Strict, unit
from sim.model.search import equal_indices


class OptInInterestConfig(Strict):
    """Accepters who know of the opt-in set out to take it at a yearly rate (docs/ODD.md §7.17)."""

    enabled: bool
    rate_per_year: Probability = unit("probability per year of an aware accepter not enrolled")


class OptInInterest(Mechanism):
    key = "opt_in_interest"
    Params = OptInInterestConfig
    state = (StateField("opt_in_day", np.int16, NOT_YET, "next day an accepter sets out to opt in (-1: not heard)"),)

    def _schedule(self, members: np.ndarray, t: int) -> None:
        m = self.model
        h = self.param("daily", members, lambda c: rule.daily_probability(c.opt_in_interest.rate_per_year))
        gaps = m.streams.geometric_days("opt_in_interest", members, t, h)
        m.state.opt_in_day[members] = np.minimum(t + gaps, NEVER)

    def after_exposure(self, t: int, exposed: np.ndarray, from_notice: np.ndarray) -> None:
        s, pop = self.model.state, self.model.pop
        first = exposed[(pop.preference[exposed] == ACCEPT) & (s.opt_in_day[exposed] == NOT_YET)]
        self._schedule(first, t)

    def start_of_day(self, t: int) -> None:
        m = self.model
        s, pop = m.state, m.pop
        due = equal_indices(s.opt_in_day, t)
        if due.size == 0:
            return
        self._schedule(due, t)
        now = membership.is_eligible(t, s.join_day[due], s.adult_day[due], s.closed_day[due])
        who = due[now & ~s.gave_up[due] & ~s.awaiting_decision[due]]
        region = pop.region[who]
        regime = m.regime_today.take(region)
        enrolled = consent.is_enrolled(regime, s.choice[who], pop.eligible[who], m.designs)
        wants = consent.desired_choice(pop.preference[who], enrolled) == OPTED_IN
        route = consent.has_route_to_act(regime, m.designs) & (m.routes_in_today.take(region) != 0)
        m.set_out_to_act(who[wants & route], t, "opt_in_intent_duration")

    def scale_chance(self, kind: str, p, members: np.ndarray, t: int):
        """An accepter's intent comes from the yearly rate, not from a chance per exposure."""
        if kind != "intent":
            return p
        return np.where(self.model.pop.preference[members] == ACCEPT, 0.0, p)
