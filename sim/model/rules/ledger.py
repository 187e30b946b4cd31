"""The training-data ledger (docs/ODD.md §7.8).

Per region and data type, what has been ingested (in real items, i.e. weighted), and how much of it
came from members who later opted out. It only grows, except under retroactive removal, when an
opted-out member's share leaves it at the next pull.
"""

from __future__ import annotations

import numpy as np

DATA_TYPES = ("profiles", "text_tokens", "face_images", "other_images")


def first_pull_data(
    has_photo, backlog_posts, profile_tokens, tokens_per_post, face_share, other_image_share, backlog_share=1.0
):
    """A member's data at their first pull, by DATA_TYPES: the profile (and its photo, a face
    image) plus the share `backlog_share` (training.backlog_share) of the backlog of posts made
    before the horizon, split by the initial face share. Works on scalars and arrays (last axis:
    data type)."""
    backlog = np.asarray(backlog_posts, np.float64) * backlog_share
    return np.stack(
        [
            np.ones_like(backlog),
            profile_tokens + tokens_per_post * backlog,
            np.asarray(has_photo, np.float64) + backlog * face_share,
            backlog * (1.0 - face_share) * other_image_share,
        ],
        axis=-1,
    )


def new_posts_data(text_only, other_images, face_images, tokens_per_post):
    """Data of posts made since the last pull, by DATA_TYPES (every post carries text)."""
    text_only, other_images, face_images = (np.asarray(x, np.float64) for x in (text_only, other_images, face_images))
    posts = text_only + other_images + face_images
    return np.stack([np.zeros_like(posts), tokens_per_post * posts, face_images, other_images], axis=-1)


def _weighted(amounts, weight) -> np.ndarray:
    """Items in real units: `amounts` (..., DATA_TYPES) times `weight` (real members per agent) per row."""
    weight = np.asarray(weight, np.float64)
    return (weight[..., None] if weight.ndim else weight) * amounts


class Ledger:
    """Weighted totals per region (rows) and data type (columns). `region` is a row, or an array of
    distinct rows with `amounts` (rows x DATA_TYPES) and `weight` per row (a batch's cells)."""

    def __init__(self, n_regions: int):
        self.total = np.zeros((n_regions, len(DATA_TYPES)))
        self.from_objectors = np.zeros((n_regions, len(DATA_TYPES)))
        self.removed = np.zeros((n_regions, len(DATA_TYPES)))

    def ingest(self, region, amounts: np.ndarray, weight) -> None:
        self.total[region] += _weighted(amounts, weight)

    def objected(self, region, amounts: np.ndarray, weight) -> None:
        """A member whose data is already in the set opts out: their share now counts as an objector's."""
        self.from_objectors[region] += _weighted(amounts, weight)

    def remove(self, region, amounts: np.ndarray, weight) -> None:
        """Retroactive removal of opted-out members' data (already counted as objectors')."""
        # The same data was added in other groupings (members object one by one, leave together),
        # so float rounding could leave a tiny negative remainder: floor at zero.
        items = _weighted(amounts, weight)
        self.total[region] = np.maximum(self.total[region] - items, 0.0)
        self.from_objectors[region] = np.maximum(self.from_objectors[region] - items, 0.0)
        self.removed[region] += items
