"""The training-data ledger (MODEL.md section 7, "Training pull and ledger").

Per region and data type, what has been ingested (in real items, i.e. weighted), and how much of it
came from members who later opted out. It only grows, except under retroactive removal, when an
opted-out member's share leaves it at the next pull.
"""

from __future__ import annotations

import numpy as np

DATA_TYPES = ("profiles", "text_tokens", "face_images", "other_images")


class Ledger:
    """Weighted totals per region (rows) and data type (columns)."""

    def __init__(self, n_regions: int):
        self.total = np.zeros((n_regions, len(DATA_TYPES)))
        self.from_objectors = np.zeros((n_regions, len(DATA_TYPES)))
        self.removed = np.zeros((n_regions, len(DATA_TYPES)))

    def ingest(self, region: int, amounts: np.ndarray, weight: float) -> None:
        self.total[region] += weight * amounts

    def objected(self, region: int, amounts: np.ndarray, weight: float) -> None:
        """A member whose data is already in the set opts out: their share now counts as an objector's."""
        self.from_objectors[region] += weight * amounts

    def remove(self, region: int, amounts: np.ndarray, weight: float) -> None:
        """Retroactive removal of opted-out members' data (already counted as objectors')."""
        self.total[region] -= weight * amounts
        self.from_objectors[region] -= weight * amounts
        self.removed[region] += weight * amounts
