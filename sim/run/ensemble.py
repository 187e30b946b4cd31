"""Posterior ensembles (docs/ODD.md §9a): one run, many parameter sets from the calibrated posterior.

`uncertainty=posterior uncertainty.draws=N` makes a run simulate N parameter sets drawn from the
shipped posterior (sim.analysis.posterior), each at the run's own seed, all through
`sim.model.batch.simulate_many`. The draws depend only on (draws, draw_seed), so every policy of a
sweep, and every seed, gets the same N parameter sets: draw k under one policy pairs with draw k
under another, and a difference between policies keeps its pairing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.calibration import with_values
from sim.analysis.posterior import (
    POSTERIOR_DIR,
    Posterior,
    PosteriorError,
    check_keys,
    load_posterior,
    posterior_sha256,
)
from sim.model.batch import simulate_many
from sim.model.config import SimConfig, validate_config
from sim.model.records import Records, agents_by_region
from sim.model.world import sample_members, simulated_dates

DRAW = "draw"  # the series column that numbers a run's posterior draws


def posterior_of(config: SimConfig) -> tuple[Posterior, Path]:
    """The run's posterior, checked whole (sim.analysis.posterior.load_posterior) and against the
    run's config; a PosteriorError names the key that chose it."""
    given = config.uncertainty.posterior_dir
    directory = Path(given) if given else POSTERIOR_DIR
    try:
        post = load_posterior(directory)
        check_keys(post, config.model_dump(mode="json"), directory)
    except PosteriorError as why:
        key = f"uncertainty.posterior_dir={given}" if given else "uncertainty.posterior_dir=null (the packaged one)"
        raise type(why)(f"{key}: {why}") from None
    return post, directory


def draw_configs(config: SimConfig) -> tuple[list[SimConfig], pd.DataFrame, dict]:
    """The run's config with each posterior draw's values; the draws as a table; the posterior's identity."""
    post, directory = posterior_of(config)
    draws = post.draws(config.uncertainty.draws, config.uncertainty.draw_seed)
    raw = config.model_dump(mode="json")
    configs = [validate_config(with_values(raw, post.shipped_parameters, values)) for values in draws]
    table = pd.DataFrame(draws)[[p["name"] for p in post.shipped_parameters]]
    table.insert(0, DRAW, np.arange(len(draws)))
    identity = {
        "posterior_dir": str(directory),
        "posterior_sha256": posterior_sha256(directory),
        "draws": config.uncertainty.draws,
        "draw_seed": config.uncertainty.draw_seed,
    }
    return configs, table, identity


def simulate_draws(config: SimConfig) -> tuple[list[Records], pd.DataFrame, dict]:
    """Records per posterior draw (in draw order), the draws' parameter values and the posterior's
    identity. Every draw has the run's seed and population settings: the same sample and dates."""
    configs, table, identity = draw_configs(config)
    dates, agents = simulated_dates(config), agents_by_region(sample_members(config))
    return [Records(r, dates, agents) for r in simulate_many(configs)], table, identity
