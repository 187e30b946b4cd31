"""Coverage that teaches the path, and the share of coverage that is about an event (docs/ODD.md §7.11, §7.12).

Media attention in a region is a background level plus decaying shocks, one per dated event
(`sim.model.rules.awareness.media_attention`). This module splits off the event part (the shocks)
and the part of it that prints the opt-out steps (each event's `guidance` share, or the default
`coverage_share`). A member exposed on a day is reached by how-to content with probability
guided(t) / attention(t) (the share of today's coverage that prints the steps) and then, for
`memory_days`, searches the hidden steps with the guided offset `search_offset` (log-odds off
each hidden step, sim.model.rules.friction) where it is larger than the unguided one. The event
share event(t) / attention(t) is also what a story brings back (sim.model.rules.return_visits).
Every function here works on scalars and on arrays alike.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from sim.model.regions import REGION_CODES


def event_attention(
    media, start: dt.date, n_days: int, events: list[tuple[dt.date, str, str]], coverage_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """(event shocks, their how-to part) per day and region, on the daily-probability scale of
    `media_attention` (policy events carry `coverage_share`; extra events their own `guidance`); `media`
    is the config's `awareness.media`."""
    days = np.arange(n_days, dtype=np.float64)
    shocks, guided = np.zeros((n_days, len(REGION_CODES))), np.zeros((n_days, len(REGION_CODES)))
    all_events = [(date, code, level, coverage_share) for date, code, level in events] + [
        (e.date, code, e.level, coverage_share if e.guidance is None else e.guidance)
        for e in media.extra_events
        for code in (REGION_CODES if "all" in e.regions else e.regions)
    ]
    for date, code, level, share in all_events:
        if level == "none":
            continue
        since = days - (date - start).days
        shock = np.where(since >= 0, media.shock_per_day[level] * np.exp(-np.maximum(since, 0) / media.decay_days), 0.0)
        r = REGION_CODES.index(code)
        shocks[:, r] += shock
        guided[:, r] += share * shock
    return shocks, guided


def share_of_attention(part, attention):
    """part / attention, 0 where there is no attention."""
    part, attention = np.asarray(part, np.float64), np.asarray(attention, np.float64)
    return np.where(attention > 0, np.minimum(part / np.where(attention > 0, attention, 1.0), 1.0), 0.0)


def guided_offset(offset, guided, guided_offset_value):
    """The search offset of members who know the path: the guided attempt's, where it is larger
    than the unguided one (printed steps never make a member search worse); unchanged otherwise."""
    offset = np.asarray(offset, np.float64)
    return np.where(guided, np.maximum(offset, guided_offset_value), offset)
