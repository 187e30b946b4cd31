"""An event calendar of visits, for the benchmark's comparison with the engine's scan (bench.py,
`visit_lookup`): each day's members in a singly linked list (a head per day, a link per member),
compiled. Not used by the model: at the model's visit rates the scan is faster (docs/PERFORMANCE.md).
None of these without numba."""

from __future__ import annotations

import numpy as np

from sim.model.compiled import njit


def _build(next_day, days):
    """The calendar of members whose next day is before `days` (each list in member order)."""
    head, link = np.full(days, -1, np.int64), np.full(next_day.size, -1, np.int64)
    for member in range(next_day.size - 1, -1, -1):
        if next_day[member] < days:
            link[member], head[next_day[member]] = head[next_day[member]], member
    return head, link


def _pop(head, link, day):
    """The day's members, sorted (the order of a scan), and the day emptied."""
    count, member = 0, head[day]
    while member >= 0:
        count, member = count + 1, link[member]
    out, member = np.empty(count, np.int64), head[day]
    for k in range(count):
        out[k], member = member, link[member]
    head[day] = -1
    return np.sort(out)


def _insert(head, link, members, days):
    """Put each member in the list of their day (days beyond the calendar are dropped)."""
    for k in range(members.size):
        if days[k] < head.size:
            link[members[k]], head[days[k]] = head[days[k]], members[k]


calendar_build, calendar_pop, calendar_insert = (
    (njit(nogil=True)(f) for f in (_build, _pop, _insert)) if njit else (None, None, None)
)
