"""Named experiments through Hydra launchers, aggregation and plots, on tiny sweeps in tmp_path."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from sim.run.compose import CONF_DIR

ROOT = Path(__file__).resolve().parent.parent
# seeds only (uncertainty=none): these tests are of sweeping and aggregating, not of posterior draws
TINY = ["population.agents=1500", "population.min_agents_per_region=100", "end=2024-10-31", "progress=false",
        "uncertainty=none"]  # fmt: skip
EXPERIMENTS = ("regimes", "designs", "friction", "attention", "retroactive", "publicity")


def _sweep(tmp_path: Path, *overrides: str, name: str = "sweep") -> tuple[subprocess.CompletedProcess, Path]:
    sweep_dir = tmp_path / name
    cmd = [sys.executable, "-m", "sim.run", "-m", *overrides, *TINY, f"hydra.sweep.dir={sweep_dir}"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    return done, sweep_dir


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_named_experiment_sweeps_replicate_seeds_through_joblib(name):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"+experiment={name}"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    assert "seed" in params and params.seed.startswith("range(")
    assert len(params) >= 2  # something compared, with shared seeds
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher")
    assert cfg.hydra.launcher.n_jobs == -1
    assert cfg.progress is False
    assert cfg.uncertainty.mode == "posterior" and cfg.uncertainty.draws >= 10  # intervals beyond seeds (issue 30)


def test_regimes_sweep_aggregates_replicates_and_draws_every_figure(tmp_path):
    done, sweep_dir = _sweep(
        tmp_path,
        "+experiment=regimes",
        "policy=linkedin_actual,affirmative_everywhere",
        "seed=range(0,3)",
        "hydra.launcher.n_jobs=2",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = pd.read_parquet(sweep_dir / "aggregate" / "runs.parquet")
    assert set(runs.policy) == {"linkedin_actual", "affirmative_everywhere"}
    assert set(runs.seed) == {0, 1, 2}
    assert runs.groupby(["policy", "seed"]).ngroups == 6
    reduced = pd.read_parquet(sweep_dir / "aggregate" / "reduced.parquet")
    assert (reduced.replicates == 3).all()
    assert ((reduced.q10 <= reduced["median"]) & (reduced["median"] <= reduced.q90)).all()
    summary = json.loads((sweep_dir / "aggregate" / "summary.json").read_text())
    assert {tuple(sorted(e["settings"].items())) for e in summary} and len(summary) == 2
    for entry in summary:
        cell = entry["regions"]["ALL"]["enrolled_share"]
        assert cell["q10"] <= cell["median"] <= cell["q90"] and cell["replicates"] == 3
    one = reduced[(reduced.metric == "enrolled_share") & (reduced.region == "ALL")]
    last = one[one.date == one.date.max()].set_index("policy")["median"]
    assert last["linkedin_actual"] > last["affirmative_everywhere"]

    plotted = subprocess.run(
        [sys.executable, "-m", "sim.reports.plot", str(sweep_dir)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert plotted.returncode == 0, plotted.stderr[-3000:]
    figures = sweep_dir / "figures"
    for stem in ("opt_out_curves", "opt_in_curves", "dataset_by_type", "objector_data"):
        for ext in ("png", "svg"):
            assert (figures / f"{stem}.{ext}").stat().st_size > 1000
    assert not (figures / "face_share.png").exists()  # the sweep does not vary the face share
    assert (figures / "consent_gap_linkedin_actual.png").exists()


def test_friction_sweep_takes_list_valued_notice_channels(tmp_path):
    done, sweep_dir = _sweep(
        tmp_path,
        "+experiment=friction",
        "policy.route_override=settings_toggle,prominent_toggle",
        "policy.notice_override=[email],[email,in_app]",
        "seed=0",
        "hydra.launcher.n_jobs=2",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    index = pd.read_csv(sweep_dir / "aggregate" / "runs.csv")
    assert set(index["policy.notice_override"]) == {"email", "email+in_app"}
    assert set(index["policy.route_override"]) == {"settings_toggle", "prominent_toggle"}


def test_a_failed_job_is_recorded_the_others_finish_and_the_sweep_exits_non_zero(tmp_path):
    done, sweep_dir = _sweep(tmp_path, "awareness.notices.email_read_prob=0.4,1.5", "seed=0,1")
    assert done.returncode != 0
    index = pd.read_csv(sweep_dir / "aggregate" / "runs.csv")
    assert (index.status == "ok").sum() == 2
    failed = index[index.status == "failed"]
    assert len(failed) == 2 and set(failed["awareness.notices.email_read_prob"]) == {1.5}
    assert failed.error.str.contains("email_read_prob").all()
    assert "2 job(s) failed" in done.stderr
    for run in failed.run:
        assert (sweep_dir / str(run) / "failure.json").exists()
        assert not (sweep_dir / str(run) / "series.parquet").exists()


def test_aggregate_on_demand_matches_the_end_of_sweep_table(tmp_path):
    done, sweep_dir = _sweep(tmp_path, "seed=0,1")
    assert done.returncode == 0, done.stderr[-3000:]
    before = pd.read_parquet(sweep_dir / "aggregate" / "reduced.parquet")
    (sweep_dir / "aggregate" / "reduced.parquet").unlink()
    again = subprocess.run(
        [sys.executable, "-m", "sim.analysis.aggregate", str(sweep_dir)], capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    pd.testing.assert_frame_equal(before, pd.read_parquet(sweep_dir / "aggregate" / "reduced.parquet"))


def test_aggregate_of_a_folder_without_runs_says_so(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sim.analysis.aggregate", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "no run folders" in done.stderr


def test_plot_of_a_single_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "sim.run", *TINY, f"hydra.run.dir={run_dir}"]
    assert subprocess.run(cmd, cwd=tmp_path, capture_output=True, timeout=300).returncode == 0
    done = subprocess.run([sys.executable, "-m", "sim.reports.plot", str(run_dir)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run_dir / "figures" / "opt_out_curves.png").exists()


def test_submitit_local_executor_runs_the_sweep_like_slurm(tmp_path):
    """submitit's local executor is the same code path as its SLURM executor."""
    done, sweep_dir = _sweep(tmp_path, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10", "seed=0,1")
    assert done.returncode == 0, done.stderr[-3000:]
    runs = pd.read_parquet(sweep_dir / "aggregate" / "runs.parquet")
    assert set(runs.seed) == {0, 1}


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the optional [ray] extra is not installed")
def test_ray_launcher_runs_the_sweep_on_a_local_ray(tmp_path):
    done, sweep_dir = _sweep(tmp_path, "hydra/launcher=ray", "hydra.launcher.ray.init.address=local", "seed=0,1")
    assert done.returncode == 0, done.stderr[-3000:]
    runs = pd.read_parquet(sweep_dir / "aggregate" / "runs.parquet")
    assert set(runs.seed) == {0, 1}
