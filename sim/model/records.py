"""A simulation's results as data: its series by day, output region and metric, with its dates and
sample, independent of the model that made them (docs/ODD.md §8)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.metrics import INDEX, METRIC_NAMES
from sim.model.regions import ALL, OUTPUT_REGIONS, REGION_CODES


@dataclass(frozen=True)
class Records:
    values: np.ndarray  # [day, output region (OUTPUT_REGIONS), metric (METRIC_NAMES)]
    dates: np.ndarray  # datetime64[D] of each simulated day
    agents_per_region: dict[str, int]  # the sample's agents by region code (joiners included)
    joiners: int = 0  # agents who join during the horizon (membership), beyond the sample at the start

    @classmethod
    def of_model(cls, model) -> Records:
        """The records of a (stepped) one-simulation model, up to the last day it simulated."""
        return cls(
            model.records[: model.day], model.dates[: model.day], agents_by_region(model.pop), joiners(model.pop)
        )

    @property
    def agents(self) -> int:
        """Agents at the start (`population.agents`); the joiners come on top."""
        return sum(self.agents_per_region.values()) - self.joiners

    def series(self, metric: str, region: str = ALL) -> np.ndarray:
        """One metric's daily values in one output region."""
        return self.values[:, OUTPUT_REGIONS.index(region), INDEX[metric]]

    def on_day(self, day: int = -1) -> dict[str, dict[str, float]]:
        """Every metric per output region on one day (default: the last)."""
        return {
            code: {name: float(self.values[day, r, k]) for k, name in enumerate(METRIC_NAMES)}
            for r, code in enumerate(OUTPUT_REGIONS)
        }


def joiners(pop) -> int:
    """Agents sampled to join during the horizon (0 without membership changes)."""
    return 0 if pop.start_agents is None else int(pop.n - pop.start_agents.sum())


def agents_by_region(pop) -> dict[str, int]:
    return {code: int(s.stop - s.start) for code, s in zip(REGION_CODES, pop.slices, strict=True)}
