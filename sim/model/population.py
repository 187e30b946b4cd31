"""The sampled, weighted population: one numpy array per fixed attribute (docs/ODD.md §7.1).

Agents are sampled per region, with a floor per region so small regions are not noise, and stored
sorted by region: each region is one contiguous slice, so per-region sums are slice reductions and
every agent in a slice carries its region's weight (real members per agent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.config import PopulationConfig, for_region
from sim.model.random_streams import Streams
from sim.model.regions import REGIONS
from sim.model.rules.consent import ACCEPT, INDIFFERENT, OBJECT
from sim.model.rules.content import daily_probability


@dataclass
class Population:
    """Fixed attributes, one array each, indexed by agent; agents sorted by region."""

    region: np.ndarray  # int8 index into REGIONS
    slices: list[slice]  # each region's agents
    weight_by_region: np.ndarray  # float64, real members per agent
    eligible: np.ndarray  # bool: adult (18+); minors never train
    visit_prob: np.ndarray  # float32, daily chance of a visit (login_rate as a daily probability)
    tenure_days: np.ndarray  # int16, days since joining at the start date
    has_photo: np.ndarray  # bool, profile photo with a face
    concern: np.ndarray  # float32 in [0, 1]
    preference: np.ndarray  # int8: INDIFFERENT, OBJECT, ACCEPT
    skill: np.ndarray  # float32 in [0, 1]
    visibility_motive: np.ndarray  # float32 in [0, 1]
    believes_reach_cost: np.ndarray  # bool: thinks opting out costs reach
    # posters only (agents with a post rate > 0), sorted by agent index
    poster: np.ndarray  # int32 agent index
    poster_post_prob: np.ndarray  # float32 daily chance of a post
    poster_rate_per_day: np.ndarray  # float32 posts per day (for the backlog at the first pull)
    poster_slices: list[slice]  # each region's posters, as slices of the poster arrays
    start_agents: np.ndarray | None = None  # agents per region at the start; the rest join later (membership)

    @property
    def n(self) -> int:
        return self.region.size

    @property
    def weight(self) -> np.ndarray:
        """Real members each agent stands for."""
        return self.weight_by_region[self.region]

    def in_cells(self, cells: np.ndarray, posters: bool = False) -> np.ndarray:
        """Whether each agent (or, with `posters`, each poster) is in a cell where the boolean
        array `cells` is True. Agents are stored cell by cell, so this repeats each cell's flag
        over its slice: a sequential write, where indexing by `region` is a gather."""
        slices = self.poster_slices if posters else self.slices
        return np.repeat(cells, [s.stop - s.start for s in slices])

    def poster_slots(self, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each member's index in the poster arrays, and whether they post. The members are cast to
        the poster array's dtype first: `searchsorted` would otherwise copy the whole poster array to
        the members' dtype on every call."""
        members = np.asarray(members)
        if self.poster.size == 0:
            return np.zeros(members.shape, np.intp), np.zeros(members.shape, bool)
        at = np.searchsorted(self.poster, members.astype(self.poster.dtype, copy=False))
        return at, (at < self.poster.size) & (self.poster[np.minimum(at, self.poster.size - 1)] == members)

    def poster_slice(self, region: int) -> slice:
        """The region's posters, as a slice of the poster arrays (posters are sorted by agent)."""
        return self.poster_slices[region]


def allocate_agents(members: np.ndarray, agents: int, floor: int) -> np.ndarray:
    """Agents per region: proportional to members, at least `floor`, summing to `agents`."""
    n = len(members)
    fixed = np.zeros(n, bool)  # regions held at the floor
    exact = np.full(n, float(floor))
    while not fixed.all():
        free = ~fixed
        remaining = agents - floor * fixed.sum()
        exact[free] = remaining * members[free] / members[free].sum()
        below = free & (exact < floor)
        if not below.any():
            break
        fixed |= below
        exact[below] = floor
    counts = np.floor(exact).astype(np.int64)
    short = agents - counts.sum()
    order = np.argsort(-(exact - np.floor(exact)) + fixed * 2, kind="stable")  # largest remainders first
    counts[order[:short]] += 1
    return counts


def _segment_values(rng, segments: dict, size: int, field: str) -> np.ndarray:
    names = list(segments)
    shares = np.array([segments[k].share for k in names])
    values = np.array([getattr(segments[k], field) for k in names])
    return values[rng.choice(len(names), size=size, p=shares / shares.sum())]


def sample_population(
    cfg: PopulationConfig, reach_cost_belief_share: float, streams: Streams, joiner_share: np.ndarray | None = None
) -> Population:
    """Draw every fixed attribute; the same config and seed give the same population.

    With `joiner_share` (per region, a share of the agents at the start), extra agents are drawn
    the same way and placed last in their region's slice: the joiners of `sim.model.rules.membership`.
    """
    members_m = np.array([r.members_millions for r in REGIONS])
    region_members = cfg.members * members_m / members_m.sum()
    counts = start_counts = allocate_agents(region_members, cfg.agents, cfg.agents_floor)
    if joiner_share is not None:
        counts = start_counts + np.round(start_counts * np.asarray(joiner_share)).astype(np.int64)
    n = int(counts.sum())
    region = np.repeat(np.arange(len(REGIONS), dtype=np.int8), counts)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    slices = [slice(int(bounds[i]), int(bounds[i + 1])) for i in range(len(REGIONS))]

    def per_region(values: dict) -> np.ndarray:
        return np.array([for_region(values, r.code) for r in REGIONS])[region]

    rng = streams.generator("population")
    eligible = rng.random(n) >= per_region(cfg.minor_share)
    visit_prob = daily_probability(_segment_values(rng, cfg.login_segments, n, "rate_per_day"))
    tenure = np.minimum(rng.exponential(cfg.tenure_mean_days, n), cfg.tenure_max_days).astype(np.int16)
    has_photo = rng.random(n) < cfg.photo_share

    # Privacy concern: Westin-like segments (Beta by mean and concentration), shifted by region.
    seg = cfg.concern_segments
    names = list(seg)
    shares = np.array([seg[k].share for k in names])
    which = rng.choice(len(names), size=n, p=shares / shares.sum())
    a = np.array([seg[k].mean * seg[k].concentration for k in names])[which]
    b = np.array([(1 - seg[k].mean) * seg[k].concentration for k in names])[which]
    concern = np.clip(rng.beta(a, b) + per_region(cfg.concern_shift), 0.0, 1.0)

    # Preference: within each region, the most concerned (plus noise) object and the least accept,
    # in the configured shares, so preference shares are exact and track concern.
    latent = concern + cfg.preference_noise * rng.standard_normal(n)
    preference = np.full(n, INDIFFERENT, np.int8)
    for r, s in enumerate(slices):
        order = np.argsort(latent[s], kind="stable")
        size = s.stop - s.start
        n_accept = int(round(for_region(cfg.accept_share, REGIONS[r].code) * size))
        n_object = int(round(for_region(cfg.object_share, REGIONS[r].code) * size))
        block = preference[s]
        block[order[:n_accept]] = ACCEPT
        block[order[size - n_object :]] = OBJECT

    skill = rng.beta(cfg.skill.a, cfg.skill.b, n)
    visibility = rng.beta(cfg.visibility_motive.a, cfg.visibility_motive.b, n)

    # Posting: segment rate times a mean-one lognormal spread (heavy tail), times the scale of every
    # segment's rate (post_rate_scale); most members never post.
    sigma = cfg.post_rate_spread
    rate = _segment_values(rng, cfg.post_segments, n, "rate_per_day") * rng.lognormal(-(sigma**2) / 2, sigma, n)
    rate = rate * cfg.post_rate_scale
    poster = np.flatnonzero(rate > 0).astype(np.int32)
    poster_bounds = np.searchsorted(poster, bounds)
    believes = rng.random(n) < reach_cost_belief_share

    return Population(
        region=region,
        slices=slices,
        weight_by_region=region_members / start_counts,
        eligible=eligible,
        visit_prob=visit_prob.astype(np.float32),
        tenure_days=tenure,
        has_photo=has_photo,
        concern=concern.astype(np.float32),
        preference=preference,
        skill=skill.astype(np.float32),
        visibility_motive=visibility.astype(np.float32),
        believes_reach_cost=believes,
        poster=poster,
        poster_post_prob=daily_probability(rate[poster]).astype(np.float32),
        poster_rate_per_day=rate[poster].astype(np.float32),
        poster_slices=[slice(int(a), int(b)) for a, b in zip(poster_bounds[:-1], poster_bounds[1:], strict=True)],
        start_agents=start_counts if joiner_share is not None else None,
    )
