"""Day indices: the int16 day fields of the state and their special values."""

from __future__ import annotations

from sim.model.random_streams import NEVER

NOT_YET = -1  # day index meaning "never happened" in int16 day fields
NO_VISIT = -30_000  # last_visit of a member who has not visited (far before any 30-day window)

__all__ = ["NEVER", "NOT_YET", "NO_VISIT"]
