"""Coverage that brings members back (docs/ODD.md §7.12): an exposure while event coverage runs
brings a member to the site the next day with probability `response_prob` x event(t) / attention(t),
the share of today's coverage that is about the event rather than the background level."""

from __future__ import annotations

import numpy as np

from sim.model.mechanisms.base import Mechanism
from sim.model.rules import guidance
from sim.model.schema import Probability, Strict, unit


class ReturnVisitsConfig(Strict):
    """A major story brings members back to check their settings (docs/ODD.md §7.12)."""

    enabled: bool
    response_prob: Probability = unit("probability per exposure to event coverage")


class ReturnVisits(Mechanism):
    key = "return_visits"
    Params = ReturnVisitsConfig

    def __init__(self, model):
        super().__init__(model)
        shocks, _, attention = model.world.event_attention()
        self.event_prob = guidance.share_of_attention(shocks, attention)  # [day, cell]

    def after_exposure(self, t: int, exposed: np.ndarray, from_notice: np.ndarray) -> None:
        m = self.model
        p = self.param("response_prob", exposed) * self.event_prob[t].take(m.pop.region[exposed])
        hit = p > 0
        back = exposed[hit][m.streams.uniform("return_visit", exposed[hit], t) < p[hit]]
        m.state.next_visit[back] = np.minimum(m.state.next_visit[back], t + 1)
