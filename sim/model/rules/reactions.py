"""Reactions beyond the toggle (docs/ODD.md §7.14).

An eligible objector who is exposed may, each at most once: delete old posts (their backlog keeps
`kept_share`; only the backlog not yet pulled shrinks, what was ingested stays), post less (each
later post is kept with probability `post_factor`: a chilling effect on new data), or close their
account (no visits, posts or pulls from the next day; what was ingested stays unless retroactive
removal). Each is a chance per exposure (`share`), raised by salience like intent
(`sim.model.rules.salience.scaled_probability`). Every function here works on scalars and arrays.
"""

from __future__ import annotations

import numpy as np

KEPT_ALL = 255  # uint8 scale of the kept share of the backlog


def kept_code(kept_share: float) -> int:
    """The kept share of the backlog on its uint8 scale."""
    return int(round(kept_share * KEPT_ALL))


def backlog_after_deletion(backlog, kept_code_value):
    """The backlog a member still has at their first pull."""
    return np.asarray(backlog, np.float64) * (np.asarray(kept_code_value, np.float64) / KEPT_ALL)


def post_kept(u, chilled, post_factor):
    """Whether a scheduled post is made: always, or with `post_factor` for a chilled member."""
    return ~np.asarray(chilled, bool) | (np.asarray(u) < post_factor)
