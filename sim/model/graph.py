"""The sampled social graph, in compressed sparse rows (docs/ODD.md §2, "Information environment").

Each agent draws a number of ties (Poisson around a lognormal activity, so degrees are
heavy-tailed); each tie goes to a random agent of the same region with probability
`same_region_share`, otherwise to a random agent anywhere. Ties are undirected: both ends list
each other. Self-ties are dropped; a repeated tie counts twice (a stronger tie).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.config import GraphConfig
from sim.model.random_streams import Streams

ACTIVITY_SPREAD = 1.0  # lognormal sigma of tie activity (assumption: heavy-tailed degrees)


@dataclass
class Graph:
    indptr: np.ndarray  # int64, n + 1
    indices: np.ndarray  # int32, contacts of agent i at indices[indptr[i]:indptr[i+1]]

    @property
    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    @property
    def nbytes(self) -> int:
        return self.indptr.nbytes + self.indices.nbytes


def sample_graph(cfg: GraphConfig, slices: list[slice], n: int, streams: Streams) -> Graph:
    """Draw the graph; mean degree is about cfg.mean_contacts."""
    rng = streams.generator("graph")
    activity = rng.lognormal(-(ACTIVITY_SPREAD**2) / 2, ACTIVITY_SPREAD, n)
    ties = rng.poisson(activity * cfg.mean_contacts / 2)  # each tie adds one contact at both ends
    source = np.repeat(np.arange(n, dtype=np.int32), ties)
    same = rng.random(source.size) < cfg.same_region_share
    u = rng.random(source.size)
    lo = np.empty(n, np.int64)
    size = np.empty(n, np.int64)
    for s in slices:
        lo[s] = s.start
        size[s] = s.stop - s.start
    target = np.where(same, lo[source] + (u * size[source]).astype(np.int64), (u * n).astype(np.int64))
    keep = target != source
    a, b = source[keep], target[keep].astype(np.int32)
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return Graph(indptr=indptr, indices=cols[order])
