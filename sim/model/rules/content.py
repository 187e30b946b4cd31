"""Content and attention (docs/ODD.md §7.7).

Each post is a face image (with the member's current face share), another image, or text only.
The feed multiplies a face image's engagement by `face_boost`. After each post a member's face
share moves toward the better-rewarded type at a rate scaled by their visibility motive, by a
partial replicator step: f <- f + rate * motive * (f*b / (f*b + 1 - f) - f), kept within bounds.
With b = 1 (a neutral feed) the step is zero; with b > 1 the face share rises.
Every function here works on scalars and on arrays alike.
"""

from __future__ import annotations

import numpy as np

TEXT_ONLY, OTHER_IMAGE, FACE_IMAGE = 0, 1, 2


def post_type(u, face_share, other_image_share):
    """Type of one post from a uniform draw: face image, other image, or text only."""
    face_share = np.asarray(face_share, np.float64)  # float64 whether the parameters are scalars or arrays
    face = u < face_share
    other = ~face & (u < face_share + (1.0 - face_share) * other_image_share)
    return np.where(face, FACE_IMAGE, np.where(other, OTHER_IMAGE, TEXT_ONLY)).astype(np.int8)


def face_share_update(face_share, face_boost, visibility_motive, rate, lower, upper):
    """Face share after one post, moved toward what the feed rewards."""
    f = np.asarray(face_share, np.float64)
    rewarded = f * face_boost / (f * face_boost + (1.0 - f))
    return np.clip(f + rate * np.asarray(visibility_motive, np.float64) * (rewarded - f), lower, upper)


def daily_probability(rate_per_day):
    """Chance of at least one event in a day for a Poisson rate."""
    return -np.expm1(-np.asarray(rate_per_day, np.float64))
