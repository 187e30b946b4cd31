"""Salience (docs/ODD.md §7.10): how present the change is in a member's mind.

Raised by exposures (media and word of mouth, notices, contacts who acted), halving every
`half_life_days`, it raises the chance to form intent and to try: p -> 1 - (1 - p)^(1 + gain x S)
(sim.model.rules.salience). Stored lazily: the value at the last update and that day.
"""

from __future__ import annotations

import numpy as np

from sim.model.declarations import Metric, StateField
from sim.model.mechanisms.base import Mechanism
from sim.model.rules import salience
from sim.model.schema import PositiveFloat, Strength, Strict, unit


class SalienceConfig(Strict):
    """A per-member, decaying salience raised by exposures (docs/ODD.md §7.10)."""

    enabled: bool
    half_life_days: PositiveFloat = unit("days")
    exposure_boost: Strength = unit("salience")
    notice_boost: Strength = unit("salience")
    contact_boost: Strength = unit("salience per share of contacts telling")
    max_salience: float = unit("salience", gt=0.0, le=100.0)
    intent_gain: Strength = unit("chances per unit of salience")
    try_gain: Strength = unit("chances per unit of salience")


class Salience(Mechanism):
    key = "salience"
    Params = SalienceConfig
    state = (
        StateField("salience", np.float16, 0, "salience at `salience_day` (decays lazily)"),
        StateField("salience_day", np.int16, 0, "day of the last salience update"),
    )
    metrics = (
        Metric("mean_salience", "mean salience of eligible members", "salience", "share", "salience_sum", "eligible"),
    )

    def __init__(self, model):
        super().__init__(model)
        self.total = np.zeros(model.n_cells)  # sum of eligible members' salience today (decays daily)

    def now(self, members: np.ndarray, t: int) -> np.ndarray:
        s = self.model.state
        since = t - s.salience_day[members].astype(np.int64)
        return salience.decayed(s.salience[members], since, self.param("half_life_days", members))

    def raise_by(self, members: np.ndarray, boost, t: int) -> None:
        s = self.model.state
        before = self.now(members, t)
        s.salience[members] = salience.raised(before, boost, self.param("max_salience", members))
        s.salience_day[members] = t
        change = s.salience[members].astype(np.float64) - before
        self.total += np.bincount(self.model.pop.region[members], weights=change, minlength=self.model.n_cells)

    # hooks
    def start_of_day(self, t: int) -> None:
        if t > 0:
            self.total *= self.model.per_cell(
                "salience_daily_decay", lambda c: 0.5 ** (1.0 / c.salience.half_life_days)
            )

    def after_exposure(self, t: int, exposed: np.ndarray, from_notice: np.ndarray) -> None:
        boost = np.where(from_notice, self.param("notice_boost", exposed), self.param("exposure_boost", exposed))
        self.raise_by(exposed, boost, t)

    def told(self, t: int, told: np.ndarray, telling: np.ndarray, p: np.ndarray) -> None:
        share = telling / np.maximum(self.model.graph.contacts_of(told), 1)
        self.raise_by(told, self.param("contact_boost", told) * share, t)

    def scale_chance(self, kind: str, p, members: np.ndarray, t: int):
        return salience.scaled_probability(p, self.now(members, t), self.param(f"{kind}_gain", members))

    def leaving(self, agents: np.ndarray, region: np.ndarray) -> None:
        n = self.model.n_cells
        self.total -= np.bincount(region, weights=self.now(agents, self.model.day), minlength=n)

    def quantities(self, t: int) -> dict[str, np.ndarray]:
        return {"salience_sum": self.total}

    def counters(self) -> dict[str, np.ndarray]:
        return {"salience_total": self.total}

    def recount(self) -> dict[str, np.ndarray]:
        m = self.model
        eligible = np.flatnonzero(m.pop.eligible)
        now = self.now(eligible, m.day - 1)
        return {"salience_total": np.bincount(m.pop.region[eligible], weights=now, minlength=m.n_cells)}
