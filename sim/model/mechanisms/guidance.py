"""Coverage that prints the opt-out path (docs/ODD.md §7.11).

A member exposed by event coverage is reached by how-to content with probability guided(t) /
attention(t), and a contact told by a member who acted learns the path with probability
`word_of_mouth_share` x the chance of being told; for `memory_days` they search every hidden route
step with the guided offset `search_offset` (log-odds, sim.model.rules.friction) instead of the
unguided `friction.motivated_search_offset`, where it is larger.
"""

from __future__ import annotations

import numpy as np

from sim.model.days import NEVER, NOT_YET
from sim.model.declarations import Metric, StateField
from sim.model.mechanisms.base import Mechanism
from sim.model.rules import guidance
from sim.model.schema import Probability, Strict, unit

ELIGIBLE = "share of eligible"


class GuidanceConfig(Strict):
    """Coverage (and word of mouth) that prints the opt-out path (docs/ODD.md §7.11)."""

    enabled: bool
    coverage_share: Probability = unit("share of event coverage")
    search_offset: float = unit("log-odds per hidden step", ge=0.0, le=30.0)
    memory_days: int = unit("days", ge=1, le=3650)
    word_of_mouth_share: Probability = unit("share of contacts told")


class Guidance(Mechanism):
    key = "guidance"
    Params = GuidanceConfig
    state = (StateField("guided_until", np.int16, NOT_YET, "last day the member knows the printed path"),)
    metrics = (
        Metric(
            "guided_share",
            "eligible members who know the printed opt-out path",
            ELIGIBLE,
            "share",
            "guided",
            "eligible",
        ),
    )

    def __init__(self, model):
        super().__init__(model)
        shocks, guided, attention = model.world.event_attention()
        self.guided_prob = guidance.share_of_attention(guided, attention)  # [day, cell]
        self.count = np.zeros(model.n_cells, np.int64)  # eligible members who know the path today
        self.ends = np.zeros((model.n_days + 2, model.n_cells), np.int64)  # [day, cell]: guided whose path ends then

    def guide(self, members: np.ndarray, p: np.ndarray, stream: str, t: int) -> None:
        if members.size == 0:
            return
        m = self.model
        hit = p > 0
        guided = members[hit][m.streams.uniform(stream, members[hit], t) < p[hit]]
        s, region = m.state, m.pop.region[guided]
        until = s.guided_until[guided].astype(np.int64)
        already = until >= t
        self.count += np.bincount(region[~already], minlength=m.n_cells)
        np.subtract.at(self.ends, (np.minimum(until[already] + 1, m.n_days + 1), region[already]), 1)
        new_until = np.minimum(t + self.param("memory_days", guided).astype(np.int64) - 1, NEVER)
        s.guided_until[guided] = new_until
        np.add.at(self.ends, (np.minimum(new_until + 1, m.n_days + 1), region), 1)

    # hooks
    def start_of_day(self, t: int) -> None:
        self.count -= self.ends[t]

    def after_exposure(self, t: int, exposed: np.ndarray, from_notice: np.ndarray) -> None:
        news = exposed[~from_notice]
        self.guide(news, self.guided_prob[t].take(self.model.pop.region[news]), "guided", t)

    def told(self, t: int, told: np.ndarray, telling: np.ndarray, p: np.ndarray) -> None:
        self.guide(told, self.param("word_of_mouth_share", told) * p, "guided_by_contact", t)

    def search_offset(self, members: np.ndarray, offset: np.ndarray, t: int):
        known = self.model.state.guided_until[members] >= t
        return guidance.guided_offset(offset, known, self.param("search_offset", members))

    def leaving(self, agents: np.ndarray, region: np.ndarray) -> None:
        m = self.model
        until = m.state.guided_until[agents].astype(np.int64)
        guided = until >= m.day
        self.count -= np.bincount(region[guided], minlength=m.n_cells)
        np.subtract.at(self.ends, (np.minimum(until[guided] + 1, m.n_days + 1), region[guided]), 1)

    def quantities(self, t: int) -> dict[str, np.ndarray]:
        return {"guided": self.count}

    def counters(self) -> dict[str, np.ndarray]:
        return {"guided": self.count, "guided_ends_ahead": self.ends[self.model.day :].copy()}

    def recount(self) -> dict[str, np.ndarray]:
        m, t = self.model, self.model.day - 1
        until = m.state.guided_until.astype(np.int64)
        known = m.pop.eligible & (until >= t)
        ends = np.zeros_like(self.ends)
        np.add.at(ends, (np.minimum(until[known] + 1, m.n_days + 1), m.pop.region[known]), 1)
        return {"guided": self.per_cell_count(known), "guided_ends_ahead": ends[m.day :]}
