"""Concern that moves (docs/ODD.md §7.13).

Event coverage accumulates into a region's pressure, P(t) = P(t-1) * exp(-1 / memory_days) +
event(t) (event(t): today's shock level, `sim.model.rules.guidance.event_attention`). A share
min(max_share, sensitivity * P(t)) of the region's indifferent members object while it lasts; each
indifferent member has a fixed threshold u (uniform), and objects while u < that share. Bounded by
`max_share`; without coverage P decays, the share falls, and members return to indifference in
the reverse order. Every function here works on scalars and on arrays alike.
"""

from __future__ import annotations

import numpy as np

from sim.model.rules.consent import INDIFFERENT, OBJECT


def pressure(event_attention: np.ndarray, memory_days: float) -> np.ndarray:
    """Accumulated event coverage per day (rows) and region (columns)."""
    keep = np.exp(-1.0 / memory_days)
    out = np.empty_like(np.asarray(event_attention, np.float64))
    level = np.zeros(out.shape[1:])
    for t in range(out.shape[0]):
        level = level * keep + event_attention[t]
        out[t] = level
    return out


def objecting_share(pressure_level, sensitivity, max_share):
    """Share of the indifferent who object at a given pressure (bounded)."""
    return np.minimum(max_share, sensitivity * np.asarray(pressure_level, np.float64))


def shifted_preference(base_preference, threshold, share):
    """Today's preference: an indifferent member objects while their threshold is below the share."""
    return np.where((base_preference == INDIFFERENT) & (threshold < share), OBJECT, base_preference).astype(np.int8)
