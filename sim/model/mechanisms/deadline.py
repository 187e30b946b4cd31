"""Deadlines (docs/ODD.md §7.18): urgency rises as a policy event's deadline nears and ends after it.

The compiled policy holds, per day and region, the days left to the deadline in force
(`PolicyTable.deadline_days`: an event's `deadline`, from the event's date to the deadline). The
urgency u(d) = 1 / (1 + d / `time_constant_days`) (sim.model.rules.deadline: hyperbolic, its
source and ANCHORS 9's shape there) raises the chance to form intent on an exposure and the chance
to try on a visit: p -> 1 - (1 - p)^(1 + gain x u) (`intent_gain`, `try_gain`), as salience does.
No state: the urgency is the same for every member of a region on a day.
"""

from __future__ import annotations

import numpy as np

from sim.model.declarations import Metric
from sim.model.mechanisms.base import Mechanism
from sim.model.rules import deadline
from sim.model.schema import PositiveFloat, Strength, Strict, unit


class DeadlineConfig(Strict):
    """Urgency before a policy event's deadline (docs/ODD.md §7.18)."""

    enabled: bool
    time_constant_days: PositiveFloat = unit("days")
    intent_gain: Strength = unit("chances per unit of urgency")
    try_gain: Strength = unit("chances per unit of urgency")


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

    def urgency(self, members: np.ndarray, t: int) -> np.ndarray:
        m = self.model
        days_left = m.policy.deadline_days[t].take(m.pop.region[members])
        return deadline.urgency(days_left, self.param("time_constant_days", members))

    # hooks
    def scale_chance(self, kind: str, p, members: np.ndarray, t: int):
        u = self.urgency(members, t)
        if not u.any():  # no deadline ahead: the chance exactly as it was (1 - (1 - p) may round p)
            return p
        return np.where(u > 0, deadline.scaled_probability(p, u, self.param(f"{kind}_gain", members)), p)

    def quantities(self, t: int) -> dict[str, np.ndarray]:
        m = self.model
        tau = m.per_cell("deadline.time_constant_days")
        return {"urgency_eligible": deadline.urgency(m.policy.deadline_days[t], tau) * m.counts.eligible}
