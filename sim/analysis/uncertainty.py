"""How much of a posterior ensemble's spread is behavioural and how much stochastic (docs/ODD.md §9a).

For a sweep whose runs carry posterior draws (a `draw` column: sim.run.ensemble), every headline
number at each setting combination's horizon is split by the law of total variance over its
replicates (seed s, draw k): Var = mean_k Var_s(x | k) + Var_k(mean_s x). The part across draws,
less the seed noise left in the draw means (mean within-draw variance / seeds), is behavioural
(what the posterior leaves open); the rest is stochastic (which members and events the seed
dealt). With one seed a draw's within variance is unknown and the split is not made (NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.model.metrics import HEADLINE

DRAW = "draw"


def has_draws(runs: pd.DataFrame) -> bool:
    return DRAW in runs.columns and runs[DRAW].notna().any()


def decompose(runs: pd.DataFrame, setting_columns: list[str], seed: str = "seed") -> pd.DataFrame:
    """Per setting combination, region and headline metric at the horizon: the 10-90% width over
    every replicate, over seeds within a draw (median over draws), and the behavioural share."""
    keys = [c for c in setting_columns if c != seed and runs[c].notna().any()]
    last = runs[(runs.date == runs.date.max()) & runs.metric.isin(HEADLINE)]
    rows = []
    for key, part in last.groupby([*keys, "region", "metric"], sort=True, dropna=False):
        x = part.pivot_table(index=DRAW, columns=seed, values="value", aggfunc="first")
        seeds = x.shape[1]
        within = float(np.nanmean(x.var(axis=1, ddof=0))) if seeds > 1 else np.nan
        between = float(x.mean(axis=1).var(ddof=0))
        known = x.to_numpy()[np.isfinite(x.to_numpy())]  # a share of nobody is NaN in every replicate
        total = float(known.var()) if known.size else np.nan
        behavioural = max(between - within / seeds, 0.0) if seeds > 1 else np.nan
        seed_width = (x.quantile(0.9, axis=1) - x.quantile(0.1, axis=1)).median() if seeds > 1 else np.nan
        values = part["value"]
        rows.append({**dict(zip([*keys, "region", "metric"], key, strict=True)), "draws": x.shape[0], "seeds": seeds,
                     "width_all": float(values.quantile(0.9) - values.quantile(0.1)),
                     "width_seeds_only": float(seed_width),
                     "behavioural_share": behavioural / total if total > 0 and seeds > 1 else np.nan})  # fmt: skip
    return pd.DataFrame(rows)
