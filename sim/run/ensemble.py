"""Posterior ensembles (docs/ODD.md §9a): one run, many parameter sets from the calibrated posterior.

`uncertainty=posterior uncertainty.draws=N` makes a run simulate N parameter sets drawn from the
shipped posterior (sim.analysis.posterior), each at the run's own seed, all through
`sim.model.batch.simulate_many`. The draws depend only on (draws, draw_seed), so every policy of a
sweep, and every seed, gets the same N parameter sets: draw k under one policy pairs with draw k
under another, and a difference between policies keeps its pairing.

Each draw also carries the parameters no target informs (`unfitted` in conf/calibration/targets.yaml:
the dataset's volume and timing, the reactions, opting in unasked), drawn from their priors: they
keep their prior, and the intervals carry it. The draws table and the run's provenance name them
("prior_only"). A parameter whose config keys count whole days (training.first_pull_lag_days) is
drawn on a continuous prior and rounded to the nearest whole number (`whole_numbered`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.calibration import load_prior_only, with_values
from sim.analysis.posterior import (
    POSTERIOR_DIR,
    Posterior,
    PosteriorError,
    check_keys,
    load_posterior,
    posterior_sha256,
)
from sim.analysis.priors import draw_natural
from sim.model.batch import simulate_many
from sim.model.config import SimConfig, validate_config
from sim.model.records import Records, agents_by_region, joiners
from sim.model.world import sample_members, simulated_dates
from sim.run.compose import get_key

DRAW = "draw"  # the series column that numbers a run's posterior draws
PRIOR_ONLY_STREAM = 0x5052494F  # "PRIO": the seed stream of the prior-only parameters' draws


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
    n, seed = config.uncertainty.draws, config.uncertainty.draw_seed
    draws = post.draws(n, seed)
    fitted = {p["name"] for p in post.shipped_parameters}
    prior_only = [p for p in load_prior_only() if p["name"] not in fitted]
    rng = np.random.default_rng([seed, PRIOR_ONLY_STREAM])  # its own stream: the posterior's draws stay as they were
    from_priors = {p["name"]: draw_natural(p["prior"], rng, n) for p in prior_only}
    for k, values in enumerate(draws):
        values.update({name: float(v[k]) for name, v in from_priors.items()})
    raw = config.model_dump(mode="json")
    parameters = [*post.shipped_parameters, *prior_only]
    for name in whole_numbered(raw, parameters):  # a count of days: the draw rounded to the nearest one
        for values in draws:
            if name in values:
                values[name] = float(np.round(values[name]))
    configs = [validate_config(with_values(raw, parameters, values)) for values in draws]
    table = pd.DataFrame(draws)[[p["name"] for p in parameters]]
    table.insert(0, DRAW, np.arange(len(draws)))
    identity = {
        "posterior_dir": str(directory),
        "posterior_sha256": posterior_sha256(directory),
        "draws": n,
        "draw_seed": seed,
        "prior_only": [p["name"] for p in prior_only],
    }
    return configs, table, identity


def whole_numbered(raw: dict, parameters: list[dict]) -> list[str]:
    """The parameters whose keys are all integers in the config (say training.first_pull_lag_days):
    a continuous prior's draw of them is rounded to the nearest whole number (draw_configs), so the
    draws table shows the value the draw ran with."""

    def whole(key: str) -> bool:
        value = get_key(raw, key)
        value = value["default"] if isinstance(value, dict) else value
        return isinstance(value, int) and not isinstance(value, bool)

    return [p["name"] for p in parameters if all(whole(k) for k in p["keys"])]


def simulate_draws(config: SimConfig) -> tuple[list[Records], pd.DataFrame, dict]:
    """Records per posterior draw (in draw order), the draws' parameter values and the posterior's
    identity. Every draw has the run's seed and population settings: the same sample and dates."""
    configs, table, identity = draw_configs(config)
    dates, pop = simulated_dates(config), sample_members(config)
    agents, joined = agents_by_region(pop), joiners(pop)
    return [Records(r, dates, agents, joined) for r in simulate_many(configs)], table, identity
