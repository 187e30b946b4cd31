"""Searches over many sorted segments at once (no Python loop over regions or cells), and the
distinct values of index arrays."""

from __future__ import annotations

import numpy as np

from sim.model.compiled import njit


def lower_bound(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """For each query k, the first index i in [lo[k], hi[k]) with values[i] >= x[k], else hi[k]:
    `numpy.searchsorted(values[lo:hi], x, side="left") + lo`, for every query's own segment of a
    flat array that is non-decreasing within each segment. Compiled (one binary search per query)
    where numba is there, else `lower_bound_numpy`."""
    lo, hi, x = np.asarray(lo, np.int64), np.asarray(hi, np.int64), np.asarray(x)
    if _lower_bound_compiled is None or np.size(values) == 0:
        return lower_bound_numpy(values, lo, hi, x)
    return _lower_bound_compiled(np.asarray(values), lo, hi, x)


def lower_bound_numpy(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`lower_bound` in numpy: a binary search run on all queries together, log2(longest segment)
    passes."""
    lo, hi, x = np.array(lo, np.int64), np.array(hi, np.int64), np.asarray(x)
    out = hi.copy()  # a query whose segment's last value is below it ends at hi without a search
    if values.size == 0:
        return out
    search = np.flatnonzero((lo < hi) & (values[np.maximum(hi - 1, 0)] >= x))
    lo, hi, x = lo[search], hi[search], x[search]
    while search.size:
        open_ = lo < hi
        if not open_.any():
            break
        mid = (lo + hi) // 2
        below = open_ & (values[np.where(open_, mid, 0)] < x)
        lo = np.where(below, mid + 1, lo)
        hi = np.where(open_ & ~below, mid, hi)
    out[search] = lo
    return out


def _lower_bound_loop(values, lo, hi, x):
    out = hi.copy()
    for k in range(lo.size):
        a, b = lo[k], hi[k]
        if a < b and values[b - 1] >= x[k]:  # as lower_bound_numpy: else (even for NaN) hi
            while a < b:
                mid = (a + b) // 2
                if values[mid] < x[k]:
                    a = mid + 1
                else:
                    b = mid
            out[k] = a
    return out


_lower_bound_compiled = njit(cache=True, nogil=True)(_lower_bound_loop) if njit else None


def equal_indices(values: np.ndarray, x: int) -> np.ndarray:
    """`numpy.flatnonzero(values == x)` (int64, ascending) of a 1-d array: the day's scans for
    members whose event day is today. Compiled, it is one counting pass and one branch-free
    writing pass (about a third of numpy's time at 10^6 members: no boolean temporary, no
    mispredicted branch where a few per cent match)."""
    if _equal_indices_compiled is None:
        return np.flatnonzero(values == x)
    return _equal_indices_compiled(values, values.dtype.type(x))


def _equal_indices_loop(values, x):
    count = 0
    for i in range(values.size):
        count += values[i] == x
    out = np.empty(count + 1, np.int64)  # one spare slot: every index is written, the next overwrites it
    k = 0
    for i in range(values.size):
        out[k] = i
        k += values[i] == x
    return out[:count]


_equal_indices_compiled = njit(cache=True, nogil=True)(_equal_indices_loop) if njit else None


def unique(values: np.ndarray, return_counts: bool = False):
    """`numpy.unique` of an integer array (its distinct values, sorted, and with `return_counts`
    how often each occurs), by one sort: numpy 2's `unique` hashes before it sorts, which is an
    order of magnitude slower on the step's index arrays (tens of thousands of members)."""
    v = np.sort(values)
    first = np.ones(v.size, bool)
    np.not_equal(v[1:], v[:-1], out=first[1:])
    if not return_counts:
        return v[first]
    starts = np.flatnonzero(first)
    return v[starts], np.diff(np.append(starts, v.size))


def ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The concatenated index ranges [lo[k], hi[k]) (empty where hi <= lo)."""
    lengths = np.maximum(np.asarray(hi, np.int64) - lo, 0)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, np.int64)
    return np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(lo, lengths)
