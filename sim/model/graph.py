"""The sampled social graph, in compressed sparse rows (docs/ODD.md §2, "Information environment").

Each agent draws a number of ties (Poisson around a lognormal activity, so degrees are
heavy-tailed); each tie goes to a random agent of the same region with probability
`same_region_share`, otherwise to a random agent anywhere. Ties are undirected: both ends list
each other. Self-ties are dropped; a repeated tie counts twice (a stronger tie).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.compiled import njit
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

    def contacts_of(self, members: np.ndarray) -> np.ndarray:
        """How many contacts each of these members has (not kept per agent: 8 bytes each)."""
        return self.indptr[members + 1] - self.indptr[members]

    @property
    def nbytes(self) -> int:
        return self.indptr.nbytes + self.indices.nbytes


CHUNK_TIES = 1 << 20  # ties drawn and placed per block: bounds the set-up's float64 temporaries


def sample_graph(cfg: GraphConfig, slices: list[slice], n: int, streams: Streams) -> Graph:
    """Draw the graph; mean degree is about cfg.mean_contacts.

    Memory: with a whole-array temporary at every step the sampling needed about 70 bytes per tie,
    the run's peak. Here the ties' uniforms are drawn and turned into targets a block at a time (the
    same numbers: a Generator's doubles do not depend on how many are asked for at once), and the
    rows are laid out by a counting sort instead of an argsort: about 20 bytes per tie."""
    rng = streams.generator("graph")
    activity = rng.lognormal(-(ACTIVITY_SPREAD**2) / 2, ACTIVITY_SPREAD, n)
    ties = rng.poisson(activity * cfg.mean_contacts / 2)  # each tie adds one contact at both ends
    del activity
    source = np.repeat(np.arange(n, dtype=np.int32), ties)
    del ties
    same = np.empty(source.size, bool)
    for block in _blocks(source.size):
        same[block] = rng.random(block.stop - block.start) < cfg.same_region_share
    lo = np.empty(n, np.int64)
    size = np.empty(n, np.int64)
    for s in slices:
        lo[s] = s.start
        size[s] = s.stop - s.start
    target = np.empty(source.size, np.int32)  # agents fit in int32 (the contacts' dtype)
    for block in _blocks(source.size):
        u, src = rng.random(block.stop - block.start), source[block]
        target[block] = np.where(same[block], lo[src] + (u * size[src]).astype(np.int64), (u * n).astype(np.int64))
    del same, lo, size
    keep = target != source
    return _csr(source[keep], target[keep], n)


def _blocks(total: int):
    return (slice(start, min(start + CHUNK_TIES, total)) for start in range(0, total, CHUNK_TIES))


def _csr(a: np.ndarray, b: np.ndarray, n: int) -> Graph:
    """The undirected ties (a[i], b[i]) in compressed sparse rows: each row lists its contacts in
    the order of the ties where it is the first end, then of those where it is the second (the
    order of a stable sort of the rows of [a, b] against [b, a])."""
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(a, minlength=n) + np.bincount(b, minlength=n), out=indptr[1:])
    if _fill_rows_compiled is not None:
        return Graph(indptr=indptr, indices=_fill_rows_compiled(a, b, indptr))
    rows, cols = np.concatenate([a, b]), np.concatenate([b, a])
    return Graph(indptr=indptr, indices=cols[np.argsort(rows, kind="stable")])


def _fill_rows_loop(a, b, indptr):
    """`_csr`'s layout by a counting sort: one pass over each end, no sort order array."""
    at = indptr[:-1].copy()
    out = np.empty(indptr[-1], np.int32)
    for i in range(a.size):
        out[at[a[i]]] = b[i]
        at[a[i]] += 1
    for i in range(b.size):
        out[at[b[i]]] = a[i]
        at[b[i]] += 1
    return out


_fill_rows_compiled = njit(cache=True, nogil=True)(_fill_rows_loop) if njit else None
