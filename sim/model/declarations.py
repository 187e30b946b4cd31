"""What a mechanism declares besides its hooks: its metrics and its per-member state arrays.

Kept below every other model module (it imports only numpy), so the metric registry, the state
and the mechanisms (sim/model/mechanisms/) can all read these without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Kind = Literal["count", "flow", "share"]


@dataclass(frozen=True)
class Metric:
    """One recorded series (docs/ODD.md §9a): a numerator and, for a share, a denominator, both
    *quantities* measured per region each day in real units (sim.model.metrics)."""

    name: str
    description: str
    unit: str
    kind: Kind
    numerator: str  # a quantity the engine measures per region
    denominator: str | None = None  # for shares: the quantity it is a share of

    @property
    def additive(self) -> bool:
        """Counts and flows add up across regions; shares do not."""
        return self.kind != "share"


@dataclass(frozen=True)
class StateField:
    """One per-agent state array: its name on `AgentState`, dtype, value at the start and whether it
    is held for every member or for posters only (aligned with `Population.poster`)."""

    name: str
    dtype: type
    initial: int | float
    description: str
    per: Literal["member", "poster"] = "member"

    def allocate(self, n_members: int, n_posters: int) -> np.ndarray:
        return np.full(n_members if self.per == "member" else n_posters, self.initial, self.dtype)
