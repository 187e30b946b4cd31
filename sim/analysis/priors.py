"""The calibration's priors (conf/calibration/targets.yaml: `{uniform: [lo, hi]}` or
`{loguniform: [lo, hi]}` per parameter), on the scale pyabc samples and perturbs them.

A log-uniform parameter is sampled as its log, uniform over [log lo, log hi]: a Gaussian kernel on
the natural scale would pile proposals against the lower bound, where the prior's density is
highest, and collapse the importance weights. `natural` takes a particle back to the model's scale.
"""

from __future__ import annotations

import numpy as np


def prior_support(prior: dict) -> tuple[float, float]:
    """The prior's bounds on the model's scale."""
    ((_, (low, high)),) = prior.items()
    return float(low), float(high)


def prior_rv(prior: dict):
    """A pyabc random variable from a prior spec, on pyabc's scale."""
    import pyabc

    ((kind, (low, high)),) = prior.items()
    if kind == "uniform":
        return pyabc.RV("uniform", low, high - low)
    if kind == "loguniform":
        return pyabc.RV("uniform", np.log(low), np.log(high) - np.log(low))
    raise ValueError(f"unknown prior {prior}: use uniform or loguniform")


def draw_prior(prior: dict, rng: np.random.Generator) -> float:
    """A draw on pyabc's scale (see prior_rv): the log of a log-uniform parameter."""
    low, high = prior_support(prior)
    if "loguniform" in prior:
        return float(rng.uniform(np.log(low), np.log(high)))
    return float(rng.uniform(low, high))


def draw_natural(prior: dict, rng: np.random.Generator, size: int) -> np.ndarray:
    """`size` draws from a prior on the model's scale (a log-uniform parameter uniform in its log)."""
    low, high = prior_support(prior)
    if "loguniform" in prior:
        return np.exp(rng.uniform(np.log(low), np.log(high), size))
    return rng.uniform(low, high, size)


def natural(values: dict, parameters: list[dict]) -> dict[str, float]:
    """A particle's values on the model's scale (log-uniform parameters are sampled as their logs)."""
    logs = {p["name"] for p in parameters if "loguniform" in p["prior"]}
    return {k: float(np.exp(v)) if k in logs else float(v) for k, v in dict(values).items()}
