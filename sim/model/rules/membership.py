"""A changing membership (docs/ODD.md §7.15).

Arrays never resize: joiners are extra agents sampled with the population (per region, the
configured growth a year times the horizon, as a share of the agents at the start), each with a
join day drawn uniformly over the horizon; before it they are not members (not eligible, not
counted, no visits or posts). Members aged 16-17 turn 18 on a day drawn uniformly within
`age_in_days` of the start (or of joining). Dormant members (visit rate below a threshold) close
their account at a constant rate. A member is eligible on day t when joined, adult and not closed.
"""

from __future__ import annotations

import numpy as np

NEVER_DAY = 32_000  # beyond any horizon (int16)


def uniform_days(rng: np.random.Generator, size: int, low: int, high: int) -> np.ndarray:
    """Days drawn uniformly in [low, high)."""
    return rng.integers(low, max(high, low + 1), size=size)


def closing_days(rng: np.random.Generator, from_day: np.ndarray, rate_per_year: float) -> np.ndarray:
    """Day each account closes at a constant yearly rate, from `from_day` (NEVER_DAY beyond)."""
    p = -np.expm1(np.log1p(-min(rate_per_year, 1.0 - 1e-12)) / 365.25)  # daily probability
    if p <= 0:
        return np.full(np.shape(from_day), NEVER_DAY, np.int64)
    gaps = rng.geometric(p, size=np.shape(from_day))
    return np.minimum(np.asarray(from_day) + gaps, NEVER_DAY)


def is_eligible(t, join_day, adult_day, closed_day):
    """Member on day t (joined, not closed) and adult."""
    return (join_day <= t) & (adult_day <= t) & (closed_day > t)
