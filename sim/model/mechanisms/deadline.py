"""Deadlines (docs/ODD.md §7.18): urgency rises as a policy event's deadline nears and ends after it.

The compiled policy holds, per day and region, the days left to the deadline in force
(`PolicyTable.deadline_days`: an event's `deadline`, from the event's date to the deadline). The
urgency u(d) = 1 / (1 + d / `time_constant_days`) (sim.model.rules.deadline: hyperbolic, its source
and ANCHORS 9's shape there) is a cue without fresh news: each day, a member who has heard of the
data use, wants a status other than theirs and has a route open to it sets out to act with the
chance `act_prob` x u (`ConsentModel.set_out_to_act`: a fresh intent, which ends an earlier giving
up, and a visit that day made to act). Members awaiting a submitted route's decision have acted.
"""

from __future__ import annotations

import numpy as np

from sim.model.days import NOT_YET
from sim.model.declarations import Metric
from sim.model.mechanisms.base import Mechanism
from sim.model.rules import deadline
from sim.model.rules.consent import NO_CHOICE
from sim.model.schema import PositiveFloat, Probability, Strict, unit


class DeadlineConfig(Strict):
    """Urgency before a policy event's deadline (docs/ODD.md §7.18)."""

    enabled: bool
    time_constant_days: PositiveFloat = unit("days")
    act_prob: Probability = unit("probability per day, on the deadline's day (urgency 1)")


class Deadline(Mechanism):
    key = "deadline"
    Params = DeadlineConfig
    metrics = (
        Metric(
            "deadline_urgency",
            "urgency of the deadline in force in the region, 1 on its day, 0 with none ahead (deadline on)",
            "urgency (0-1)",
            "share",
            "urgency_eligible",
            "eligible",
        ),
    )

    # hooks
    def start_of_day(self, t: int) -> None:
        m = self.model
        s, pop = m.state, m.pop
        ahead = m.policy.deadline_days[t] >= 0  # by region
        if not ahead.any():
            return
        who = np.flatnonzero(ahead.take(pop.region) & pop.eligible & (s.aware_since != NOT_YET) & ~s.awaiting_decision)
        desired, routes = m.routes_to_act(who)
        who = who[(desired != NO_CHOICE) & (routes != 0)]
        days_left = m.policy.deadline_days[t].take(pop.region[who])
        u = deadline.urgency(days_left, self.param("time_constant_days", who))
        cued = who[m.streams.uniform("deadline_cue", who, t) < deadline.cue_probability(self.param("act_prob", who), u)]
        m.set_out_to_act(cued, t, "deadline_intent_duration")

    def quantities(self, t: int) -> dict[str, np.ndarray]:
        m = self.model
        tau = m.per_cell("deadline.time_constant_days")
        return {"urgency_eligible": deadline.urgency(m.policy.deadline_days[t], tau) * m.counts.eligible}
