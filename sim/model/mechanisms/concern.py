"""Concern that moves (docs/ODD.md §7.13): sustained event coverage turns a bounded share of a
region's indifferent members into objectors, and back when it fades (sim.model.rules.concern).

Each indifferent member has a fixed threshold (a keyed draw on day -1) and objects while it lies
below today's share; the members are kept sorted by threshold per cell, so a day's switches are
the thresholds between yesterday's share and today's: a search, not a pass over the members.
"""

from __future__ import annotations

import numpy as np

from sim.model.mechanisms.base import Mechanism
from sim.model.regions import REGION_CODES
from sim.model.rules import concern
from sim.model.rules.consent import INDIFFERENT, OBJECT
from sim.model.schema import PositiveFloat, Probability, Strict, unit
from sim.model.search import lower_bound, ranges


class ConcernShiftConfig(Strict):
    """Sustained coverage moves some indifferent members to object, and back (docs/ODD.md §7.13)."""

    enabled: bool
    sensitivity: float = unit("share per unit of accumulated coverage", ge=0.0, le=100.0)
    max_share: Probability = unit("share of the indifferent")
    memory_days: PositiveFloat = unit("days")


class Concern(Mechanism):
    key = "concern"
    Params = ConcernShiftConfig

    def __init__(self, model):
        super().__init__(model)
        pop, n_regions = model.pop, len(REGION_CODES)
        shocks, _, _ = model.world.event_attention()
        self.share = np.hstack(  # [day, cell]: share of the indifferent who object
            [
                concern.objecting_share(
                    concern.pressure(shocks[:, k * n_regions : (k + 1) * n_regions], c.memory_days),
                    c.sensitivity,
                    c.max_share,
                )
                for k, c in enumerate(cfg.concern for cfg in model.world.configs)
            ]
        )
        self.applied = np.zeros(model.n_cells)
        # per cell: the indifferent members sorted by their threshold, cell after cell in one array;
        # cell c's are [bounds[c], bounds[c + 1])
        indifferent, thresholds = [], []
        for sl in pop.slices:
            members = np.flatnonzero(pop.preference[sl] == INDIFFERENT) + sl.start
            u = model.streams.uniform("concern_threshold", members, -1)
            order = np.argsort(u, kind="stable")
            indifferent.append(members[order])
            thresholds.append(u[order])
        self.indifferent = np.concatenate(indifferent).astype(np.int32)  # agent indices fit (Population.poster)
        self.thresholds = np.concatenate(thresholds)
        self.bounds = np.concatenate([[0], np.cumsum([a.size for a in indifferent])])

    def shift_preferences(self, t: int) -> None:
        """Indifferent members whose threshold lies between yesterday's and today's share switch."""
        m, share = self.model, self.share[t]
        cells = np.flatnonzero(self.applied != share)
        if cells.size == 0:
            return
        old, new = self.applied[cells], share[cells]
        self.applied[cells] = new
        first, last = self.bounds[cells], self.bounds[cells + 1]
        lo = lower_bound(self.thresholds, first, last, np.minimum(old, new))
        hi = lower_bound(self.thresholds, first, last, np.maximum(old, new))
        members = self.indifferent[ranges(lo, hi)]  # thresholds crossed today, cell by cell
        if members.size == 0:
            return
        up = np.repeat(new > old, hi - lo)  # the share rose: they object now
        m.pop.preference[members] = np.where(up, OBJECT, INDIFFERENT)
        m.tally.touch(members)
        m.counts.objection_changed(members, up)
