"""Posterior ensembles (uncertainty=posterior): paired draws, a draw is a run, and the width split."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from sim.analysis.calibration import load_prior_only, load_targets
from sim.analysis.posterior import write_posterior
from sim.analysis.uncertainty import decompose
from sim.model.config import validate_config
from sim.run.compose import compose_raw, get_key
from sim.run.ensemble import draw_configs
from sim.run.folder import execute

TINY = ["population.agents=800", "population.min_agents_per_region=40", "end=2024-10-31", "progress=false"]


def _posterior(tmp_path, rows: list[dict]) -> str:
    """A posterior of these rows over every calibrated, nuisance and prior-only parameter (so none is
    drawn from its prior: the rows fix them all)."""
    _, params, nuisance = load_targets()
    every = params + nuisance + load_prior_only()
    values = np.array([[row[p["name"]] for p in every] for row in rows])
    write_posterior(tmp_path, [{k: p[k] for k in ("name", "keys", "prior")} for p in every], values,
                    np.ones(len(rows)), {"nuisance": [p["name"] for p in nuisance]})  # fmt: skip
    return str(tmp_path)


def _shipped_values() -> dict:
    """Every calibrated and prior-only parameter at its shipped value (the first key it is written to)."""
    _, params, nuisance = load_targets()
    raw = compose_raw(TINY)
    out = {}
    for p in params + load_prior_only():
        value = get_key(raw, p["keys"][0])
        out[p["name"]] = value["default"] if isinstance(value, dict) else value
    return {**out, **{p["name"]: 0.2 for p in nuisance}}


def _config(*overrides: str):
    return validate_config(compose_raw([*TINY, *overrides]))


def test_draws_pair_across_policies(tmp_path):
    """Draw k carries the same parameter values and seed under every policy."""
    base = _shipped_values()
    rows = [{**base, "try_prob": t, "intent_half_life_days": h} for t, h in ((0.2, 10.0), (0.5, 40.0), (0.9, 90.0))]
    ens = ["uncertainty=posterior", "uncertainty.draws=4", f"uncertainty.posterior_dir={_posterior(tmp_path, rows)}"]
    a_configs, a_table, a_id = draw_configs(_config("policy=linkedin_actual", "seed=3", *ens))
    b_configs, b_table, b_id = draw_configs(_config("policy=forced_choice_everywhere", "seed=3", *ens))
    pd.testing.assert_frame_equal(a_table, b_table)
    assert a_id == b_id
    for a, b, (_, row) in zip(a_configs, b_configs, a_table.iterrows(), strict=True):
        assert a.seed == b.seed == 3
        assert a.friction.try_prob == b.friction.try_prob == row["try_prob"]
        assert a.consent.intent_half_life_days == b.consent.intent_half_life_days == row["intent_half_life_days"]
        assert a.policy.name == "linkedin_actual" and b.policy.name == "forced_choice_everywhere"
    assert a_table["try_prob"].nunique() > 1  # the draws differ from each other


def test_an_ensemble_of_the_shipped_values_reproduces_the_single_run(tmp_path):
    posterior = _posterior(tmp_path / "posterior", [_shipped_values()] * 3)
    execute(_config("seed=1"), tmp_path / "single")
    execute(_config("seed=1", "uncertainty=posterior", "uncertainty.draws=2",
                    f"uncertainty.posterior_dir={posterior}"), tmp_path / "ensemble")  # fmt: skip
    single = pd.read_parquet(tmp_path / "single" / "series.parquet")
    ensemble = pd.read_parquet(tmp_path / "ensemble" / "series.parquet")
    assert sorted(ensemble["draw"].unique()) == [0, 1]
    for _, part in ensemble.groupby("draw"):
        np.testing.assert_array_equal(part["value"].to_numpy(), single["value"].to_numpy())
    assert (tmp_path / "ensemble" / "draws.csv").exists()


def test_a_posterior_ensemble_needs_two_draws_and_a_posterior(tmp_path):
    with pytest.raises(ValueError, match="at least 2 draws"):
        _config("uncertainty=posterior", "uncertainty.draws=1")
    with pytest.raises(FileNotFoundError, match="experiments/calibrate.py"):
        draw_configs(_config("uncertainty=posterior", "uncertainty.draws=2", f"uncertainty.posterior_dir={tmp_path}"))


def _runs(draw_means: list[float], seed_noise: list[float]) -> pd.DataFrame:
    rows = [{"policy": "p", "seed": s, "draw": k, "date": pd.Timestamp("2025-01-01"), "region": "ALL",
             "metric": "enrolled_share", "value": m + e}
            for k, m in enumerate(draw_means) for s, e in enumerate(seed_noise)]  # fmt: skip
    return pd.DataFrame(rows)


def test_the_width_split_is_behavioural_when_draws_differ_and_stochastic_when_they_do_not():
    noise = [-0.01, 0.0, 0.01]
    same = decompose(_runs([0.5, 0.5, 0.5, 0.5], noise), ["policy", "seed"]).iloc[0]
    assert same["behavioural_share"] == pytest.approx(0.0)
    apart = decompose(_runs([0.3, 0.4, 0.5, 0.6], noise), ["policy", "seed"]).iloc[0]
    # law of total variance: between-draw variance 0.0125, within 2/3 * 1e-4, less within / seeds
    total = 0.0125 + 2e-4 / 3
    assert apart["behavioural_share"] == pytest.approx((0.0125 - 2e-4 / 9) / total)
    assert apart["width_all"] > apart["width_seeds_only"]


def test_a_regimes_sweep_with_posterior_draws_gives_wider_intervals_and_the_brief_says_why(tmp_path):
    """docs/INFERENCE.md's posterior sweep at a tiny size, on the shipped posterior: aggregate, figures and brief."""
    import subprocess
    import sys

    sweep = tmp_path / "regimes"
    cmd = [sys.executable, "-m", "sim.run", "-m", "+experiment=regimes", "seed=range(0,2)",
           "policy=linkedin_actual,forced_choice_everywhere", "uncertainty=posterior", "uncertainty.draws=4",
           *[o for o in TINY if not o.startswith("end=")], "end=2024-12-31",
           "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    split = pd.read_parquet(sweep / "aggregate" / "uncertainty.parquet")
    moving = split[(split.region == "ALL") & (split.width_seeds_only > 0)]
    assert (moving.draws == 4).all() and (moving.seeds == 2).all()
    assert (moving.width_all / moving.width_seeds_only).median() > 1  # behavioural uncertainty widens them
    done = subprocess.run([sys.executable, "-m", "sim.brief", str(sweep), "--formats", "md", "--sensitivity", "none"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    text = (sweep / "brief" / "brief.md").read_text()
    assert "are 4 parameter sets drawn from the calibrated\nposterior times 2 seeds" in text
    assert "times as wide as seed-only ones" in text and "seed replicates only" not in text
    assert "Seed-only intervals" not in text
    assert (sweep / "brief" / "figures").is_dir()


def test_prior_only_parameters_are_drawn_from_their_priors_and_carried_into_the_dataset():
    """The dataset's volume and timing (no target informs them) are drawn from their priors in every
    posterior draw, paired across policies, named in the identity, and widen the text-token interval:
    its 10-90% range at least 5% of its median (issue 26's check)."""
    from sim.analysis.calibration import load_prior_only
    from sim.analysis.priors import prior_support
    from sim.model.batch import simulate_many
    from sim.model.metrics import INDEX

    ens = ["uncertainty=posterior", "uncertainty.draws=20", "end=2024-12-31"]
    configs, table, identity = draw_configs(_config(*ens))
    _, other, other_id = draw_configs(_config("policy=forced_choice_everywhere", *ens))
    pd.testing.assert_frame_equal(table, other)
    prior_only = {p["name"]: p for p in load_prior_only()}
    assert {"tokens_per_post", "profile_tokens", "tenure_mean_days", "photo_share"} <= set(identity["prior_only"])
    assert {"post_rate_scale", "first_pull_lag_days", "backlog_share"} <= set(identity["prior_only"])
    for name in identity["prior_only"]:
        low, high = prior_support(prior_only[name]["prior"])
        assert table[name].between(low, high).all(), name
        if name == "first_pull_lag_days":  # whole days: the draw is rounded to the nearest day
            assert (table[name] == table[name].round()).all() and table[name].nunique() > 3, table[name]
        else:
            assert table[name].nunique() == len(table), name
    for k, config in enumerate(configs):
        assert config.training.tokens_per_post == table["tokens_per_post"][k]
        assert config.population.post_rate_scale == table["post_rate_scale"][k]
        assert config.training.first_pull_lag_days == table["first_pull_lag_days"][k]
        assert config.training.backlog_share == table["backlog_share"][k]
    tokens = np.array([r[-1, -1, INDEX["dataset_text_tokens"]] for r in simulate_many(configs)])
    q10, q50, q90 = np.quantile(tokens, [0.1, 0.5, 0.9])
    assert q90 - q10 >= 0.05 * q50, (q10, q50, q90)


def test_the_volume_and_timing_priors_are_drawn_into_every_posterior_draw(tmp_path):
    """issue 26 item 7: a posterior ensemble draws the post rates' scale, the first pull's lag (rounded
    to whole days) and the backlog's share from their priors, writes them into each draw's config,
    and they move the dataset. The posterior here fixes every calibrated parameter (two equal rows),
    so only the prior-only ones vary."""
    from sim.analysis.priors import prior_support
    from sim.model.batch import simulate_many
    from sim.model.metrics import INDEX

    _, params, nuisance = load_targets()
    base = _shipped_values()
    fitted = params + nuisance
    write_posterior(tmp_path, [{k: p[k] for k in ("name", "keys", "prior")} for p in fitted],
                    np.array([[base[p["name"]] for p in fitted]] * 2), np.ones(2),
                    {"nuisance": [p["name"] for p in nuisance]})  # fmt: skip
    ens = ["uncertainty=posterior", "uncertainty.draws=12", f"uncertainty.posterior_dir={tmp_path}", "end=2024-12-31"]
    configs, table, identity = draw_configs(_config(*ens))
    new = {"post_rate_scale": "population.post_rate_scale", "first_pull_lag_days": "training.first_pull_lag_days",
           "backlog_share": "training.backlog_share"}  # fmt: skip
    assert set(new) <= set(identity["prior_only"])
    prior = {p["name"]: p["prior"] for p in load_prior_only()}
    for name, key in new.items():
        low, high = prior_support(prior[name])
        assert table[name].between(low, high).all() and table[name].nunique() > 3, name
        group, leaf = key.split(".")
        assert [getattr(getattr(c, group), leaf) for c in configs] == list(table[name]), name
    assert (table.first_pull_lag_days == table.first_pull_lag_days.round()).all()
    assert all(isinstance(c.training.first_pull_lag_days, int) for c in configs)
    tokens = np.array([r[-1, -1, INDEX["dataset_text_tokens"]] for r in simulate_many(configs)])
    assert np.unique(tokens).size == len(configs)


def test_a_single_posterior_run_prints_the_median_with_its_range_and_says_so(tmp_path, capsys):
    """A run with posterior draws prints, per region, the median over its draws with the 10%-90%
    range over them, and says that it is a median; the range holds the median (issue 30)."""
    result = execute(_config("uncertainty=posterior", "uncertainty.draws=4"), tmp_path / "run")
    printed = capsys.readouterr().out
    assert "median over 4 posterior draws, 10%-90% over them in brackets" in printed
    us = next(line for line in printed.splitlines() if line.startswith("US "))
    median, low, high = (float(x) for x in re.findall(r"([\d.]+)%", us)[:3])  # enrolled: median (q10 to q90)
    assert low <= median <= high
    band = result["interval"]
    assert band["draws"] == 4
    for code, m in result["regions"].items():
        assert band["q10"][code]["enrolled_share"] <= m["enrolled_share"] <= band["q90"][code]["enrolled_share"]
    seeds_only = execute(_config(), tmp_path / "seeds")
    assert "interval" not in seeds_only and "posterior draws" not in capsys.readouterr().out
