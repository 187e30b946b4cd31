"""What the targets could pin at best: a screening of the reference table's first wave, which is drawn
from the prior (docs/CALIBRATION.md, "What the targets can pin at best").

For each parameter and target, the main effect's spread is the standard deviation over the prior of
E[target | parameter] (binned by the parameter's quantiles, the within-bin noise subtracted), in
units of the target's sqrt(error^2 + seed sd^2). In a linear-Gaussian model with every other
parameter known, a parameter whose main effects are s_t errors has a posterior 90% interval of
3.29 sd_x / sqrt(sum_t s_t^2) on its sampling scale: the **best width ratio** below is that over
the prior's 90% width. It is a bound, not an estimate: other parameters unknown, trade-offs between
them and seed noise in one run per set all widen the posterior further. A parameter whose bound is
not under the identification threshold (sim.analysis.checks.IDENTIFIED_RATIO) cannot be identified
by these targets however many sets are simulated: the principled cut of issue 27's "or fewer
parameters". What a main effect cannot see: an effect that only shows through another parameter
(an interaction, no main effect), which the corner figure's ridges show instead.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

BINS = 10  # quantile bins of a parameter: 40 sets each at 400 prior draws
MIN_DRAWS = 4 * BINS  # prior draws below which no screening is made (a tiny test fit)
Z90 = stats.norm.ppf(0.95)  # half a Gaussian 90% interval, in standard deviations


def main_effect_sd(x: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    """Standard deviation of E[y | x] over the sample of x, estimated from `bins` quantile bins of x:
    the between-bin variance less what the within-bin noise alone would give it (ANOVA's
    E[between] = var(main effect) + within var * (bins - 1) / n). Sets with no model value are left out."""
    ok = np.isfinite(y)
    x, y = np.asarray(x, float)[ok], np.asarray(y, float)[ok]
    if len(y) < 2 * bins:
        raise ValueError(f"{len(y)} sets with a model value: too few for {bins} bins")
    edges = np.quantile(x, np.linspace(0, 1, bins + 1))
    k = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    counts = np.bincount(k, minlength=bins)
    means = np.bincount(k, weights=y, minlength=bins) / np.maximum(counts, 1)
    between = np.sum(counts * (means - y.mean()) ** 2) / len(y)
    within = np.sum((y - means[k]) ** 2) / (len(y) - bins)
    return float(np.sqrt(max(0.0, between - within * (bins - 1) / len(y))))


def best_width_ratio(x: np.ndarray, effects_in_errors: np.ndarray) -> float:
    """The narrowest posterior 90% interval the targets could give a parameter, over its prior's 90%
    interval (both on the sampling scale of the sample `x`), capped at 1 (the prior)."""
    combined = float(np.sqrt(np.sum(np.square(effects_in_errors))))
    if combined == 0.0:
        return 1.0
    prior_width = float(np.diff(np.quantile(x, [0.05, 0.95]))[0])
    return min(1.0, 2 * Z90 * float(np.std(x)) / combined / prior_width)


def screen(u: np.ndarray, y: np.ndarray, sigma: np.ndarray, names: list[str], target_ids: list[str]) -> list[dict]:
    """Per parameter (columns of `u`, prior draws on the sampling scale): each target's main effect in
    errors (`sigma`, one per column of `y`), the target that moves it most and the best width ratio."""
    rows = []
    for j, name in enumerate(names):
        effects = np.array([main_effect_sd(u[:, j], y[:, k]) / sigma[k] for k in range(len(target_ids))])
        top = int(np.argmax(effects))
        rows.append({
            "name": name, "effects_in_errors": dict(zip(target_ids, map(float, effects), strict=True)),
            "strongest_target": target_ids[top], "strongest_effect": float(effects[top]),
            "best_width_ratio": best_width_ratio(u[:, j], effects),
        })  # fmt: skip
    return rows


def screening(table, t: dict, seed_sd: np.ndarray) -> dict:
    """The screening of a reference table (`t`: its arrays) from its first wave's prior draws."""
    first = t["wave"] == 1
    if first.sum() < MIN_DRAWS:
        return {"prior_draws": int(first.sum()), "bins": BINS, "rows": []}
    sigma = np.array([np.hypot(x.tolerance, s) for x, s in zip(table.targets, seed_sd, strict=True)])
    rows = screen(t["u"][first], t["y"][first], sigma, [p["name"] for p in table.fitted], [x.id for x in table.targets])
    return {"prior_draws": int(first.sum()), "bins": BINS, "rows": rows}
