"""A changing membership (docs/ODD.md §7.15): joiners over the horizon, members turning 18 and
closed dormant accounts. Their days are drawn at set-up (each simulation from its own set-up
stream); the engine applies a day's changes (sim.model.engine: `_membership_changes`)."""

from __future__ import annotations

import numpy as np

from sim.model.days import NEVER
from sim.model.declarations import Metric
from sim.model.mechanisms.base import Mechanism
from sim.model.regions import REGION_CODES
from sim.model.rules import membership
from sim.model.schema import ByRegionRate, Strict, for_region, unit

N_REGIONS = len(REGION_CODES)


class MembershipConfig(Strict):
    """Joiners, members turning 18, closed dormant accounts (docs/ODD.md §7.15)."""

    enabled: bool
    growth_per_year: ByRegionRate = unit("share of members per year")
    age_in_days: int = unit("days", ge=1, le=3650)
    dormant_close_per_year: float = unit("probability per year", ge=0.0, le=1.0)
    dormant_below_visits_per_day: float = unit("visits per day", ge=0.0, le=1.0)


def joiner_share(config) -> np.ndarray | None:
    """Per region, the joiners over the horizon as a share of the agents at the start (the
    population samples them at set-up), or None when membership is off."""
    m = config.membership
    if not m.enabled:
        return None
    growth = np.array([for_region(m.growth_per_year, code) for code in REGION_CODES])
    return growth * config.horizon_days / 365.25


class Membership(Mechanism):
    key = "membership"
    Params = MembershipConfig
    cumulative = ("joined",)
    metrics = (
        Metric("new_members", "members who joined today", "members per day", "flow", "joined_today"),
        Metric("members_joined", "members who joined since the start (cumulative)", "members", "count", "joined_total"),
    )

    def __init__(self, model):
        super().__init__(model)
        # (members, day their eligibility may change) of each simulation: set-up only
        changing = [self._draw_days(k, config.membership) for k, config in enumerate(model.world.configs)]
        pop, s, n_days = model.pop, model.state, model.n_days
        pop.eligible[:] = membership.is_eligible(0, s.join_day, s.adult_day, s.closed_day)
        model.counts.recount_eligible()
        agents = np.concatenate([a for a, _ in changing])
        days = np.concatenate([d for _, d in changing])
        keep = (days > 0) & (days < n_days)
        order = np.argsort(days[keep], kind="stable")
        # a calendar of the days eligibility may change (members in any order: a day's are taken sorted)
        self.agents, self.bounds = agents[keep][order], np.searchsorted(days[keep][order], np.arange(n_days + 1))

    def _draw_days(self, sim: int, m: MembershipConfig) -> tuple[np.ndarray, np.ndarray]:
        """Join, coming-of-age and closing days of simulation `sim`'s members (its own set-up draws);
        returns the members whose eligibility may change and the day it may."""
        model = self.model
        pop, s, n_days = model.pop, model.state, model.n_days
        rng = model.world.sim_streams[sim].generator("membership")
        cells = slice(sim * N_REGIONS, (sim + 1) * N_REGIONS)
        first, last = model.world.agent_starts[sim], model.world.agent_starts[sim + 1]
        joiners = np.concatenate(
            [
                np.arange(sl.start + int(k), sl.stop)
                for sl, k in zip(pop.slices[cells], pop.start_agents[cells], strict=True)
            ]
        )
        join = membership.uniform_days(rng, joiners.size, 1, n_days)
        s.join_day[joiners] = join
        pop.tenure_days[joiners] = 0  # no backlog before the horizon
        minors = first + np.flatnonzero(~pop.eligible[first:last])
        adult = s.join_day[minors] + membership.uniform_days(rng, minors.size, 1, m.age_in_days + 1)
        s.adult_day[minors] = np.minimum(adult, NEVER)
        dormant = first + np.flatnonzero(pop.visit_prob[first:last] < m.dormant_below_visits_per_day)
        s.closed_day[dormant] = membership.closing_days(rng, s.join_day[dormant], m.dormant_close_per_year)
        # joiners: first visit on the join day (sign-up), first post after it
        s.next_visit[joiners] = join
        at, is_poster = pop.poster_slots(joiners)
        s.next_post[at[is_poster]] = np.minimum(join[is_poster] + s.next_post[at[is_poster]] + 1, NEVER)
        model.counts.members -= np.bincount(pop.region[joiners], minlength=model.n_cells)
        return (
            np.concatenate([joiners, minors, dormant]),
            np.concatenate([s.join_day[joiners], s.adult_day[minors], s.closed_day[dormant]]).astype(np.int64),
        )

    def members_changing(self, t: int) -> list[np.ndarray]:
        return [self.agents[self.bounds[t] : self.bounds[t + 1]]]
