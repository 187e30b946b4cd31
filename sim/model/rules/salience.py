"""Salience: how present the change is in a member's mind (docs/ODD.md §7.10).

Each member holds a salience S >= 0 that halves every `half_life_days`. An exposure adds a boost
(media or word of mouth `exposure_boost`, a notice `notice_boost`, contacts who acted
`contact_boost` times the share of contacts telling), capped at `max_salience`. Salience raises a
daily chance p to 1 - (1 - p) ** (1 + gain * S): each unit of salience counts as `gain` more
independent chances, so a probability stays a probability and S = 0 leaves p unchanged. A wave of
coverage gives many exposures at once, then salience decays: a spike of action that fades (the
shape of ANCHORS 9). Stored lazily: the value at the last update and the day of that update.
Every function here works on scalars and on arrays alike.
"""

from __future__ import annotations

import numpy as np


def decayed(value, since_days, half_life_days):
    """Salience after `since_days` days without an exposure."""
    return np.asarray(value, np.float64) * 0.5 ** (np.asarray(since_days, np.float64) / half_life_days)


def raised(current, boost, cap):
    """Salience after an exposure: the boost added, capped."""
    return np.minimum(np.asarray(current, np.float64) + boost, cap)


def scaled_probability(p, salience, gain):
    """A daily chance raised by salience: 1 - (1 - p) ** (1 + gain * salience)."""
    p = np.asarray(p, np.float64)
    return 1.0 - (1.0 - p) ** (1.0 + gain * np.asarray(salience, np.float64))
