"""Awareness: media attention, notices and word of mouth (docs/ODD.md §7.3).

The daily probability that a member is exposed (an unaware member becomes aware; an aware one is
reminded, which renews intent) is

    1 - (1 - media_r(t) * reach) * (1 - notice_i(t)) * (1 - wom * telling_i / contacts_i)

with media_r(t) = base_r + sum over dated events of shock * exp(-(t - t_event) / decay_days).
The model runs it in its cumulative-hazard form: each member holds an exposure level, set to
(region's cumulative media hazard now) + Exp(1) at each exposure, which word of mouth lowers; the
member is exposed when the region's cumulative media hazard reaches it. This is the same process as
a daily coin flip at the probability above, at one draw per exposure instead of one per member-day.
Email and in-app notices are direct exposures (read with a probability; in-app seen on a visit).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from sim.model.regions import REGION_CODES
from sim.model.schema import for_region
from sim.model.search import unique


def daily_exposure_probability(media, reach, notice, wom_strength, telling, contacts):
    """The awareness hazard of docs/ODD.md §7.3 for one day; works on scalars and arrays alike."""
    telling_share = np.where(np.asarray(contacts) > 0, np.asarray(telling) / np.maximum(contacts, 1), 0.0)
    return 1.0 - (1.0 - media * reach) * (1.0 - notice) * (1.0 - wom_strength * telling_share)


def hazard(probability):
    """Cumulative hazard of one day at a daily probability: -log(1 - p)."""
    return -np.log1p(-np.minimum(probability, 1.0 - 1e-12))


def media_attention(media, start: dt.date, n_days: int, events: list[tuple[dt.date, str, str]]) -> np.ndarray:
    """media_r(t) per day and region: base level plus decaying shocks (daily probability scale).
    `media` is the config's `awareness.media` (a `sim.model.config.MediaConfig`, not imported: rules sit
    below the schema)."""
    days = np.arange(n_days, dtype=np.float64)
    out = np.empty((n_days, len(REGION_CODES)))
    for r, code in enumerate(REGION_CODES):
        out[:, r] = for_region(media.base_per_day, code)
    all_events = list(events) + [
        (e.date, code, e.level)
        for e in media.extra_events
        for code in (REGION_CODES if "all" in e.regions else e.regions)
    ]
    for date, code, level in all_events:
        if level == "none":
            continue
        t0 = (date - start).days
        since = days - t0
        shock = np.where(since >= 0, media.shock_per_day[level] * np.exp(-np.maximum(since, 0) / media.decay_days), 0.0)
        out[:, REGION_CODES.index(code)] += shock
    return np.minimum(out, 1.0)


def cumulative_media_hazard(attention: np.ndarray, reach: float) -> np.ndarray:
    """Running sum over days of the media hazard; float64 so small daily terms are not lost."""
    return np.cumsum(hazard(attention * reach), axis=0)


def contacts_told(indptr: np.ndarray, indices: np.ndarray, sharers: np.ndarray):
    """Members with at least one contact among `sharers`, and how many such contacts each has.

    A sparse product of the graph with the sharers' indicator, done from the sharers' side:
    its cost is the sharers' degrees, not the population.
    """
    sharers = unique(sharers)  # a member listed twice in the window tells once
    if sharers.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    starts = indptr[sharers]
    lengths = indptr[sharers + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    neighbours = indices[np.repeat(starts, lengths) + offsets]
    return unique(neighbours, return_counts=True)
