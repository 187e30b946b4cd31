"""The calibration's priors (conf/calibration/targets.yaml: `{uniform: [lo, hi]}` or
`{loguniform: [lo, hi]}` per parameter): their bounds, and draws on the model's scale.

A log-uniform parameter is uniform in its log (the scale is unknown): `draw_natural` draws it so,
and the calibration samples it on that scale (sim.analysis.waves.to_sampling).
"""

from __future__ import annotations

import numpy as np


def prior_support(prior: dict) -> tuple[float, float]:
    """The prior's bounds on the model's scale."""
    ((_, (low, high)),) = prior.items()
    return float(low), float(high)


def draw_natural(prior: dict, rng: np.random.Generator, size: int) -> np.ndarray:
    """`size` draws from a prior on the model's scale (a log-uniform parameter uniform in its log)."""
    low, high = prior_support(prior)
    if "loguniform" in prior:
        return np.exp(rng.uniform(np.log(low), np.log(high), size))
    return rng.uniform(low, high, size)
