"""Reliability: no result that looks right and is not.

One class of failure per section, each tried as a user would (subprocesses in tmp_path, tiny runs):
a run folder belongs to one run; a sweep never looks clean when it is not; input checks cannot be
fooled; and no combination of valid inputs gives a NaN in any output.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.aggregate import AggregateOnMultirunEnd, aggregate
from sim.model.config import validate_config
from sim.model.memory import NotEnoughMemory, check_memory, run_bytes
from sim.model.records import Records
from sim.run.compose import DATA_DIR, compose_raw, unique_tag
from sim.run.folder import series_frame, summary

TINY = ["population.agents=1500", "end=2024-10-31", "progress=false"]
ENV = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}


def sim_run(cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "sim.run", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV)


def run_into(tmp_path: Path, run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    return sim_run(tmp_path, *TINY, f"hydra.run.dir={run_dir}", *overrides)


def sweep_into(tmp_path: Path, sweep_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    return sim_run(tmp_path, "-m", *TINY, f"hydra.sweep.dir={sweep_dir}", *overrides, timeout=600)


def module(cwd: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", name, *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=ENV)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*") if ".tmp" in p.name or p.name.startswith(".staging-"))


# ================================================================ one folder, one run
def test_a_run_into_a_folder_that_holds_results_is_refused_and_the_results_kept(tmp_path):
    run_dir = tmp_path / "run"
    assert run_into(tmp_path, run_dir, "seed=1").returncode == 0
    before = (run_dir / "series.parquet").read_bytes()
    again = run_into(tmp_path, run_dir, "seed=2")
    assert again.returncode == 2
    assert "already holds" in again.stderr and "+replace=true" in again.stderr
    assert "Traceback" not in again.stderr
    assert (run_dir / "series.parquet").read_bytes() == before
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["seed"] == 1


def test_replace_true_replaces_the_run_whole_and_leaves_no_temporary_file(tmp_path):
    run_dir = tmp_path / "run"
    assert run_into(tmp_path, run_dir, "seed=1", "figures=false").returncode == 0
    (run_dir / ".series.parquet.tmp-999999999").write_text("left by a killed run")
    (run_dir / ".staging-999999999-deadbeef").mkdir()
    done = run_into(tmp_path, run_dir, "seed=2", "+replace=true")
    assert done.returncode == 0, done.stderr[-2000:]
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["seed"] == 2
    assert json.loads((run_dir / "summary.json").read_text())["seed"] == 2
    assert json.loads((run_dir / "provenance.json").read_text())["seed"] == 2
    assert leftovers(run_dir) == []


def test_an_interrupted_replacement_leaves_the_earlier_run_whole(tmp_path):
    run_dir = tmp_path / "run"
    assert run_into(tmp_path, run_dir, "seed=1").returncode == 0
    old = {name: (run_dir / name).read_bytes() for name in ("config.yaml", "series.parquet", "summary.json")}
    cmd = [sys.executable, "-m", "sim.run", "progress=false", "population.agents=300000", "seed=2", "+replace=true",
           f"hydra.run.dir={run_dir}"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    try:
        for _ in range(1200):  # until the new run is under way (its staging folder exists)
            if list(run_dir.glob(".staging-*")) or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    for name, content in old.items():  # nothing of the new run beside the old results
        assert (run_dir / name).read_bytes() == content, name
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["seed"] == 1
    # the next run there cleans what the killed one left
    assert run_into(tmp_path, run_dir, "seed=3", "+replace=true").returncode == 0
    assert leftovers(run_dir) == []


def test_two_runs_started_at_once_with_the_default_folder_get_a_folder_each(tmp_path):
    cmd = [sys.executable, "-m", "sim.run", *TINY]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)]
    procs.append(subprocess.Popen([*cmd, "seed=7"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=ENV))  # fmt: skip
    for p in procs:
        p.communicate(timeout=300)
        assert p.returncode == 0
    folders = sorted(p.parent for p in (tmp_path / "outputs").rglob("summary.json"))
    assert len(folders) == 2
    assert sorted(json.loads((f / "summary.json").read_text())["seed"] for f in folders) == [0, 7]
    for f in folders:
        assert (
            yaml.safe_load((f / "config.yaml").read_text())["seed"]
            == json.loads((f / "run.json").read_text())["overrides"].count("seed=7") * 7
        )


def test_the_default_folder_names_are_unique_within_one_second():
    from hydra import compose, initialize_config_dir

    from sim.run.compose import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", return_hydra_config=True)
    from omegaconf import OmegaConf

    raw = OmegaConf.to_container(cfg.hydra, resolve=False)
    assert "${sim.unique:}" in raw["run"]["dir"] and "${sim.unique:}" in raw["sweep"]["dir"]
    assert str(os.getpid()) in unique_tag()


# ================================================================ a sweep never looks clean when it is not
@pytest.fixture(scope="module")
def clean_sweep(tmp_path_factory) -> Path:
    """A tiny complete sweep of three seeds, copied by the tests that damage it."""
    root = tmp_path_factory.mktemp("sweep")
    done = sweep_into(root, root / "sweep", "seed=0,1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "sweep"


def copy_of(sweep: Path, tmp_path: Path) -> Path:
    target = tmp_path / "sweep"
    shutil.copytree(sweep, target)
    shutil.rmtree(target / "aggregate", ignore_errors=True)
    return target


def test_a_rerun_sweep_where_a_job_now_fails_keeps_no_earlier_series(tmp_path):
    sweep_dir = tmp_path / "sweep"
    first = sweep_into(tmp_path, sweep_dir, "awareness.notices.email_read_prob=0.4,0.5")
    assert first.returncode == 0, first.stderr[-2000:]
    again = sweep_into(tmp_path, sweep_dir, "awareness.notices.email_read_prob=0.4,1.5")
    assert again.returncode != 0
    assert not (sweep_dir / "1" / "series.parquet").exists()
    assert not (sweep_dir / "1" / "summary.json").exists()
    index = pd.read_csv(sweep_dir / "aggregate" / "runs.csv", dtype={"run": str}).set_index("run")
    assert index.loc["1", "status"] == "failed" and index.loc["0", "status"] == "ok"
    runs = pd.read_parquet(sweep_dir / "aggregate" / "runs.parquet")
    assert set(runs["awareness.notices.email_read_prob"]) == {0.4}


def test_a_rerun_sweep_that_now_succeeds_keeps_no_stale_failure(tmp_path):
    sweep_dir = tmp_path / "sweep"
    assert sweep_into(tmp_path, sweep_dir, "awareness.notices.email_read_prob=0.4,1.5").returncode != 0
    again = sweep_into(tmp_path, sweep_dir, "awareness.notices.email_read_prob=0.4,0.5")
    assert again.returncode == 0, again.stderr[-2000:]
    assert not (sweep_dir / "1" / "failure.json").exists()
    index = pd.read_csv(sweep_dir / "aggregate" / "runs.csv")
    assert (index.status == "ok").all()


def test_an_exception_in_the_end_of_sweep_aggregation_is_a_non_zero_exit(tmp_path):
    from omegaconf import OmegaConf

    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "nothing-here")}}})
    with pytest.raises(SystemExit) as exit_info:
        AggregateOnMultirunEnd().on_multirun_end(config)
    assert exit_info.value.code not in (None, 0)
    assert "aggregation" in str(exit_info.value.code)


def test_an_unreadable_series_is_a_failed_run_in_aggregate_plot_and_brief(clean_sweep, tmp_path):
    sweep_dir = copy_of(clean_sweep, tmp_path)
    (sweep_dir / "1" / "series.parquet").write_bytes(b"PAR1 truncated")
    done = module(tmp_path, "sim.analysis.aggregate", str(sweep_dir))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    index = pd.read_csv(sweep_dir / "aggregate" / "runs.csv", dtype={"run": str}).set_index("run")
    assert index.loc["1", "status"] == "failed" and "unreadable series.parquet" in index.loc["1", "error"]
    assert (index.drop("1").status == "ok").all()
    reduced = pd.read_parquet(sweep_dir / "aggregate" / "reduced.parquet")
    assert (reduced.replicates == 2).all()

    plotted = module(tmp_path, "sim.reports.plot", str(sweep_dir))
    assert plotted.returncode == 0, plotted.stderr[-2000:]
    assert "1 failed of 3 jobs" in plotted.stderr
    assert "1 failed of 3 jobs" in (sweep_dir / "figures" / "opt_out_curves.svg").read_text()

    out = tmp_path / "brief"
    briefed = module(tmp_path, "sim.brief", str(sweep_dir), "--out", str(out), "--formats", "md",
                     "--sensitivity", "none", "--calibration", "none")  # fmt: skip
    assert briefed.returncode == 0, briefed.stderr[-2000:]
    assert "Traceback" not in briefed.stderr
    markdown = (out / "brief.md").read_text()
    assert "Warning: not every job" in markdown and "1 failed of 3 jobs" in markdown


def test_jobs_that_never_finished_are_listed_as_missing(clean_sweep, tmp_path):
    sweep_dir = copy_of(clean_sweep, tmp_path)
    shutil.rmtree(sweep_dir / "2")  # planned, never started (e.g. the sweep was interrupted)
    for name in ("series.parquet", "summary.json", "provenance.json"):  # started, killed (a killed worker)
        (sweep_dir / "1" / name).unlink()
    done = module(tmp_path, "sim.analysis.aggregate", str(sweep_dir))
    assert done.returncode == 1
    assert "1 run(s) of 3" in done.stdout and "2 missing" in done.stdout
    index = pd.read_csv(sweep_dir / "aggregate" / "runs.csv", dtype={"run": str}).set_index("run")
    assert index.status.to_dict() == {"0": "ok", "1": "missing", "2": "missing"}
    assert index.loc["2", "seed"] == 2  # a missing job's settings come from the sweep's plan
    result = aggregate(sweep_dir, write=False)
    assert len(result.problems) == 2


def test_runs_with_identical_settings_and_seed_are_an_error_not_replicates(clean_sweep, tmp_path):
    sweep_dir = copy_of(clean_sweep, tmp_path)
    shutil.copytree(sweep_dir / "0", sweep_dir / "extra" / "0")
    done = module(tmp_path, "sim.analysis.aggregate", str(sweep_dir))
    assert done.returncode == 1
    index = pd.read_csv(sweep_dir / "aggregate" / "runs.csv", dtype={"run": str})
    assert sorted(index[index.status == "duplicate"].run) == ["0", "extra/0"]
    reduced = pd.read_parquet(sweep_dir / "aggregate" / "reduced.parquet")
    assert (reduced.replicates == 2).all()  # seeds 1 and 2 only: the duplicates are not merged


def test_two_policies_with_the_same_name_are_not_merged(tmp_path):
    user_conf = tmp_path / "my_conf"
    (user_conf / "policy").mkdir(parents=True)
    (user_conf / "policy" / "mine.yaml").write_text(
        "defaults:\n  - linkedin_actual\n  - _self_\ndescription: my variant, not renamed\n"
        "initial: {regime: default_on, route: prominent_toggle}\n"
    )
    sweep_dir = tmp_path / "sweep"
    done = sweep_into(tmp_path, sweep_dir, f"hydra.searchpath=[file://{user_conf}]", "policy=linkedin_actual,mine")
    assert done.returncode == 0, done.stderr[-3000:]
    assert {yaml.safe_load((sweep_dir / j / "config.yaml").read_text())["policy"]["name"] for j in "01"} == {
        "linkedin_actual"
    }
    reduced = pd.read_parquet(sweep_dir / "aggregate" / "reduced.parquet")
    assert set(reduced.policy) == {"linkedin_actual", "mine"}
    assert (reduced.replicates == 1).all()


def test_a_sweep_over_end_keeps_every_horizon_in_the_summary(tmp_path):
    sweep_dir = tmp_path / "sweep"
    done = sweep_into(tmp_path, sweep_dir, "end=2024-10-15,2024-10-31")
    assert done.returncode == 0, done.stderr[-3000:]
    summary_json = json.loads((sweep_dir / "aggregate" / "summary.json").read_text())
    assert sorted(e["date"] for e in summary_json) == ["2024-10-15", "2024-10-31"]
    assert sorted(str(e["settings"]["end"]) for e in summary_json) == ["2024-10-15", "2024-10-31"]


# ================================================================ input checks that cannot be fooled
BAD = [
    ("population.skill.a=inf", ["population.skill.a", "finite"]),
    ("population.concern_segments.pragmatist.concentration=inf", ["concentration", "finite"]),
    ("feed.face_boost=nan", ["feed.face_boost", "finite"]),
    ("seed=true", ["seed", "boolean"]),
    ("population.agents=true", ["population.agents", "boolean"]),
    ("end=2025-3-1", ["end", "2025-3-1", "YYYY-MM-DD"]),
    ("policy.name=''", ["policy.name", "at least 1 character"]),
]


@pytest.mark.parametrize(("override", "expected"), BAD, ids=[b[0] for b in BAD])
def test_a_value_that_would_fool_the_checks_is_refused(tmp_path, override, expected):
    done = run_into(tmp_path, tmp_path / "run", override)
    assert done.returncode == 2, done.stdout[-2000:]
    for text in expected:
        assert text in done.stderr, (text, done.stderr)
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.rglob("series.parquet"))


def test_a_run_the_machine_cannot_hold_is_refused_up_front_with_the_estimate(tmp_path):
    done = run_into(tmp_path, tmp_path / "run", "population.agents=200000000")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "GB" in done.stderr and "available" in done.stderr and "population.agents" in done.stderr
    assert not list(tmp_path.rglob("series.parquet"))


def test_the_memory_estimate_names_the_estimate_and_the_limit():
    config = validate_config(compose_raw(["population.agents=2000000"]))
    need = run_bytes(config)
    assert 0.5e9 < need < 5e9  # measured about 0.21 kB per agent at its peak, plus the interpreter
    assert check_memory(config, available=need * 2) == need
    with pytest.raises(NotEnoughMemory, match=r"needs about \d\.\d GB .* but 0\.5 GB is available"):
        check_memory(config, available=0.5e9)


def test_a_scaled_down_floor_prints_the_precision_it_gives(tmp_path):
    done = run_into(tmp_path, tmp_path / "run")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "per-region floor of 75 agents" in done.stderr and "percentage points" in done.stderr


def test_a_yaml_syntax_error_in_a_policy_file_is_one_line_with_file_and_line(tmp_path):
    user_conf = tmp_path / "my_conf"
    (user_conf / "policy").mkdir(parents=True)
    (user_conf / "policy" / "broken.yaml").write_text("defaults:\n  - linkedin_actual\n  - _self_\nevents: [1, 2\n")
    done = run_into(tmp_path, tmp_path / "run", f"hydra.searchpath=[file://{user_conf}]", "policy=broken")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "broken.yaml line " in lines[0] and "Traceback" not in done.stderr


def test_brief_with_a_baseline_not_in_the_sweep_stops_before_writing(clean_sweep, tmp_path):
    out = tmp_path / "brief"
    done = module(tmp_path, "sim.brief", str(clean_sweep), "--baseline", "no_such_policy", "--out", str(out))
    assert done.returncode == 2
    assert "no_such_policy" in done.stderr and "linkedin_actual" in done.stderr
    assert not out.exists()


# ================================================================ no NaN from valid inputs
@settings(max_examples=6)
@given(
    skill_a=st.floats(0.01, 1e6),
    skill_b=st.floats(0.01, 1e6),
    concentration=st.floats(1e-3, 1e6),
    face_boost=st.floats(0.0, 100.0),
    mean_contacts=st.floats(0.0, 50.0),
    agents=st.integers(11, 3000),
    seed=st.integers(0, 2**31),
)
def test_no_valid_input_gives_a_nan_in_any_output(skill_a, skill_b, concentration, face_boost, mean_contacts, agents,
                                                   seed):  # fmt: skip
    from sim.run.folder import run_model

    raw = compose_raw(
        [
            f"population.agents={agents}",
            f"population.skill.a={skill_a!r}",
            f"population.skill.b={skill_b!r}",
            f"population.concern_segments.pragmatist.concentration={concentration!r}",
            f"feed.face_boost={face_boost!r}",
            f"population.graph.mean_contacts={mean_contacts!r}",
            f"seed={seed}",
            "end=2024-10-10",
            "progress=false",
        ]
    )
    config = validate_config(raw)
    records = Records.of_model(run_model(config, progress=False))
    frame = series_frame(records)
    assert frame.value.notna().all()
    result = summary(config, records)
    assert all(math.isfinite(v) for region in result["regions"].values() for v in region.values())


# ================================================================ a killed job fails alone
def test_a_job_killed_by_a_signal_is_recorded_and_its_worker_survives(tmp_path):
    from sim.run.__main__ import run_isolated

    info = {"overrides": ["seed=4"], "choices": {"policy": "linkedin_actual"}, "job": 3}
    run_isolated(lambda: os.kill(os.getpid(), signal.SIGKILL), tmp_path, info)  # as the OOM killer would
    failure = json.loads((tmp_path / "failure.json").read_text())
    assert "SIGKILL" in failure["error"] and failure["overrides"] == ["seed=4"]
    (tmp_path / "failure.json").unlink()
    run_isolated(lambda: 1 / 0, tmp_path, info)  # an exception in the job: recorded by the job
    assert "ZeroDivisionError" in json.loads((tmp_path / "failure.json").read_text())["error"]
    (tmp_path / "failure.json").unlink()
    run_isolated(lambda: None, tmp_path, info)
    assert not (tmp_path / "failure.json").exists()


# ================================================================ nothing mixed, nothing lost (issue 28)
def test_a_run_into_a_folder_another_run_is_writing_stops_and_writes_nothing(tmp_path):
    """The probe's case 3 (two runs into one folder at once): the first holds the folder's claim
    from its start to its end, so the second stops before any work, exit 2."""
    from sim.run import claim

    run_dir = tmp_path / "run"
    with claim.claimed(run_dir):  # as a run under way there would
        second = run_into(tmp_path, run_dir, "seed=5")
    assert second.returncode == 2, second.stdout[-2000:]
    assert "being written by another run" in second.stderr and str(run_dir) in second.stderr
    assert f"process {os.getpid()}" in second.stderr and "Traceback" not in second.stderr
    assert "wrote" not in second.stdout and [p.name for p in run_dir.iterdir()] == ["__main__.log"]  # Hydra's
    assert run_into(tmp_path, run_dir, "seed=5").returncode == 0  # the claim was released
    assert not (run_dir / claim.LOCK_FILE).exists()


def test_a_sweep_job_whose_folder_another_run_is_writing_stops_the_sweep_with_exit_2(tmp_path):
    from sim.run import claim

    sweep_dir = tmp_path / "sweep"
    with claim.claimed(sweep_dir / "0"):  # e.g. a second sweep started into the same folder
        done = sweep_into(tmp_path, sweep_dir, "seed=0,1")
    assert done.returncode == 2
    assert f"{sweep_dir / '0'} is being written by another run" in done.stderr and "Traceback" not in done.stderr
    assert not (sweep_dir / "0" / "summary.json").exists() and not (sweep_dir / "0" / "failure.json").exists()


def test_a_claim_is_exclusive_a_dead_runs_claim_is_taken_over_and_a_lost_claim_moves_nothing(tmp_path):
    from sim.run import claim
    from sim.run.folder import execute

    token = claim.acquire(tmp_path)
    with pytest.raises(claim.FolderBusy, match="being written by another run"):
        claim.acquire(tmp_path)
    claim.release(tmp_path, token)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    record = json.loads((tmp_path / claim.LOCK_FILE).read_text()) if (tmp_path / claim.LOCK_FILE).exists() else {}
    assert record == {}  # released
    import socket

    (tmp_path / claim.LOCK_FILE).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    stale = claim.acquire(tmp_path)  # a killed run's claim is taken over
    config = validate_config(compose_raw(TINY))
    with pytest.raises(claim.FolderBusy):  # the claim changed hands: the results are not moved in
        execute(config, tmp_path / "other", None, token)
    claim.release(tmp_path, stale)
    (tmp_path / "other").mkdir(exist_ok=True)
    claimed_now = claim.acquire(tmp_path / "other")
    with pytest.raises(claim.FolderBusy):
        execute(config, tmp_path / "other", None, "not-the-token")
    assert not list((tmp_path / "other").glob("*.json")) and leftovers(tmp_path / "other") == []
    claim.release(tmp_path / "other", claimed_now)


def test_a_brief_of_a_replaced_run_shows_the_new_run(tmp_path):
    """The probe's case 1: run, aggregate, replace with another policy and seed, brief."""
    run_dir = tmp_path / "run"
    assert run_into(tmp_path, run_dir, "seed=0").returncode == 0
    assert module(tmp_path, "sim.analysis.aggregate", str(run_dir)).returncode == 0
    (run_dir / "figures").mkdir()
    (run_dir / "brief").mkdir()
    done = run_into(tmp_path, run_dir, "seed=5", "policy=no_option_everywhere", "+replace=true")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not [d for d in ("aggregate", "brief", "figures") if (run_dir / d).exists()]  # all derived from the old run
    briefed = module(tmp_path, "sim.brief", str(run_dir), "--formats", "md", "--sensitivity", "none",
                     "--calibration", "none")  # fmt: skip
    assert briefed.returncode == 0, briefed.stderr[-2000:]
    index = pd.read_csv(run_dir / "aggregate" / "runs.csv")
    assert index[["policy", "seed"]].values.tolist() == [["no_option_everywhere", 5]]
    assert "seed=0" not in (run_dir / "brief" / "brief.md").read_text()


def test_an_aggregate_older_than_its_runs_is_made_again_by_the_brief(clean_sweep, tmp_path):
    from sim.brief.numbers import Register
    from sim.brief.sources import aggregate_is_current, load_sweep

    sweep_dir = copy_of(clean_sweep, tmp_path)
    aggregate(sweep_dir)
    assert aggregate_is_current(sweep_dir)
    earlier = time.time() - 60  # the aggregate made a minute before run 1's result (rerun since)
    for table in (sweep_dir / "aggregate").iterdir():
        os.utime(table, (earlier, earlier))
    os.utime(sweep_dir / "1" / "summary.json")
    assert not aggregate_is_current(sweep_dir)
    said = []
    load_sweep(sweep_dir, Register(), {}, log=said.append)
    assert any("aggregating" in line for line in said) and aggregate_is_current(sweep_dir)
    for name in ("series.parquet", "summary.json"):  # an interrupted rerun cleared a job's results
        (sweep_dir / "2" / name).unlink()
    assert not aggregate_is_current(sweep_dir)
    alone = tmp_path / "alone"
    shutil.copytree(clean_sweep / "aggregate", alone / "aggregate")
    assert aggregate_is_current(alone)  # only the aggregate was kept: nothing to compare it with


def _posterior_copy(tmp_path: Path) -> Path:
    from sim.analysis.posterior import POSTERIOR_DIR

    out = tmp_path / "posterior"
    out.mkdir()
    for name in ("posterior.csv", "posterior.json", "stage_one.csv"):
        if (POSTERIOR_DIR / name).exists():
            shutil.copy(POSTERIOR_DIR / name, out / name)
    return out


def test_a_cut_posterior_is_refused_naming_the_file(tmp_path):
    """The probe's case 4: posterior.csv cut to half its bytes, mid-row."""
    post = _posterior_copy(tmp_path)
    data = (post / "posterior.csv").read_bytes()
    (post / "posterior.csv").write_bytes(data[: len(data) // 2])
    done = run_into(tmp_path, tmp_path / "run", "uncertainty=posterior", "uncertainty.draws=2",
                    f"uncertainty.posterior_dir={post}")  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "posterior.csv" in done.stderr and "cut or edited" in done.stderr
    assert f"rows where {SHIPPED_ROWS}" in done.stderr
    assert "uncertainty.posterior_dir" in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.rglob("series.parquet"))


def _rewrite(post: Path, edit) -> None:
    """Edit posterior.csv as a table and record its hash again (a consistent, hand-made posterior)."""
    from sim.analysis.posterior import CSV_HASH_KEY

    table = edit(pd.read_csv(post / "posterior.csv"))
    table.to_csv(post / "posterior.csv", index=False)
    meta = json.loads((post / "posterior.json").read_text())
    meta[CSV_HASH_KEY] = hashlib.sha256((post / "posterior.csv").read_bytes()).hexdigest()
    (post / "posterior.json").write_text(json.dumps(meta))


# the shipped posterior's rows, read from its provenance (the tests do not depend on the fit's size)
SHIPPED_ROWS = json.loads((DATA_DIR / "calibration" / "posterior.json").read_text())["csv_rows"]


def _misspell(post: Path) -> None:
    meta = json.loads((post / "posterior.json").read_text())
    (p,) = [p for p in meta["parameters"] if p["name"] == "try_prob"]
    p["keys"] = ["friction.try_prb"]
    (post / "posterior.json").write_text(json.dumps(meta))


POSTERIOR_DAMAGE = {
    "missing folder": (lambda post: shutil.rmtree(post), ["no such folder"]),
    "half posterior.json": (
        lambda post: (post / "posterior.json").write_text((post / "posterior.json").read_text()[:900]),
        ["posterior.json", "not valid JSON"],
    ),
    "all-zero weights": (
        lambda post: _rewrite(post, lambda t: t.assign(weight=0.0)),
        [f"all {SHIPPED_ROWS} weights are 0"],
    ),
    "misspelt key": (_misspell, ["try_prob", "'friction.try_prb'", "not a key of the config"]),
    "edited stage_one.csv": (
        lambda post: (post / "stage_one.csv").write_text((post / "stage_one.csv").read_text().replace("0.", "0.9", 1)),
        ["stage_one.csv", "cut or edited"],
    ),
    "missing stage_one.csv": (lambda post: (post / "stage_one.csv").unlink(), ["stage_one.csv missing"]),
    "NaN value": (
        lambda post: _rewrite(post, lambda t: t.assign(try_prob=t.try_prob.where(t.index != 3))),
        ["try_prob = nan in row 4", "inside its prior [0.05, 1]"],
    ),
    "out of range": (
        lambda post: _rewrite(post, lambda t: t.assign(try_prob=1.5)),
        ["try_prob = 1.5 in row 1", f"{SHIPPED_ROWS} row(s)", "inside its prior"],
    ),
}


@pytest.mark.parametrize("damage", list(POSTERIOR_DAMAGE))
def test_a_posterior_that_cannot_be_used_is_refused_with_the_file_and_the_value(tmp_path, damage):
    from sim.analysis.posterior import PosteriorError
    from sim.run.ensemble import posterior_of

    post = _posterior_copy(tmp_path)
    edit, says = POSTERIOR_DAMAGE[damage]
    edit(post)
    config = validate_config(compose_raw([*TINY, "uncertainty=posterior", f"uncertainty.posterior_dir={post}"]))
    with pytest.raises(PosteriorError) as err:
        posterior_of(config)
    assert f"uncertainty.posterior_dir={post}" in str(err.value)
    for text in says:
        assert text in str(err.value), (text, str(err.value))


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["uncertainty.draws=7"], ["uncertainty.draws", "uncertainty.mode=none", "uncertainty=posterior"]),
        (["uncertainty=posterior", "uncertainty.draws=200000"], ["uncertainty.draws=200000", "at most 10,000"]),
    ],
)
def test_draws_that_would_be_ignored_or_could_not_be_held_are_refused(overrides, says):
    from sim.model.config import ConfigError

    with pytest.raises(ConfigError) as err:
        validate_config(compose_raw([*TINY, *overrides]))
    for text in says:
        assert text in str(err.value), (text, str(err.value))


def test_the_memory_check_keeps_a_margin_and_counts_posterior_draws():
    from sim.model.memory import USABLE_SHARE, run_bytes

    config = validate_config(compose_raw(["population.agents=2000000"]))
    need = run_bytes(config)
    with pytest.raises(NotEnoughMemory, match="may count on 85%"):  # the probe: 22.1 GB against 22.6 GB
        check_memory(config, available=need / 0.98)
    assert check_memory(config, available=need / USABLE_SHARE * (1 + 1e-9)) == need
    few, many = (
        validate_config(compose_raw(["population.agents=20000", "uncertainty=posterior", f"uncertainty.draws={n}"]))
        for n in (2, 2000)
    )
    assert run_bytes(many) - run_bytes(few) > 1998 * many.horizon_days * 12 * 22 * 8  # every draw's series
    with pytest.raises(NotEnoughMemory, match=r"uncertainty.draws=2,000 needs about .* use at most about uncertainty"):
        check_memory(many, available=run_bytes(many) / 2)


# ---------------------------------------------------------------- sweep knobs and contradictions
def _phases(*overrides: str):
    from sim.model.policy import region_phases

    config = validate_config(compose_raw(list(overrides)))
    return config, region_phases(config.policy)


def test_a_prompt_notice_knob_applies_only_where_a_prompt_can_be_answered():
    """The shipped friction experiment's prompt arm: the 2024-11-20 email stays an email in the
    regions excluded then (CN, the UK after 2024-09-20, the EU/EEA before 2025-09-18) and is a
    prompt where members have a choice."""
    _, phases = _phases("policy.notice_override=[prompt]")
    on = {code: {str(p.start): p for p in ps} for code, ps in phases.items()}
    assert [on[code]["2024-11-20"].notice for code in ("CN", "UK", "EU_EEA")] == [("email",)] * 3
    assert on["US"]["2024-11-20"].notice == ("prompt",) and on["EU_EEA"]["2025-09-18"].notice == ("prompt",)
    spec = yaml.safe_load((Path(__file__).parents[1] / "conf" / "experiment" / "friction.yaml").read_text())
    params = spec["hydra"]["sweeper"]["params"]
    for route in params["policy.route_override"].split(","):  # every arm of the shipped sweep validates
        for notice in ("[email]", "[in_app]", "[email,in_app]", "[prompt]"):
            validate_config(compose_raw([f"policy.route_override={route}", f"policy.notice_override={notice}"]))


@pytest.mark.parametrize("policy", sorted(p.stem for p in (Path(__file__).parents[1] / "conf" / "policy").iterdir()))
def test_a_design_knob_changes_only_designs_with_a_choice(policy):
    from sim.model.policy import design_rows

    config = validate_config(compose_raw([f"policy={policy}", "policy.design_override.request=every_visit"]))
    rows = {r.name: r for r in design_rows(config.policy)}
    assert rows["excluded"].request == "none" and rows["no_option"].request == "none"
    assert rows["default_on"].request == "every_visit" and rows["affirmative"].request == "every_visit"


def test_an_empty_route_list_means_no_route_as_an_empty_notice_list_means_no_notice():
    _, phases = _phases("policy.routes_override=[]", "policy.notice_override=[]")
    assert all(p.routes_out == () and p.routes_in == () and p.notice == () for ps in phases.values() for p in ps)
    _, none = _phases("policy.route_override=none")
    assert all(p.routes_out == () for ps in none.values() for p in ps)


def _add_event(raw: dict, event: dict, design: dict | None = None) -> dict:
    raw["policy"]["events"].append(event)
    raw["policy"]["designs"].update(design or {})
    return raw


CONTRADICTIONS = [
    (lambda: compose_raw(["policy.route_override=objection_form", "policy.routes_override=[settings_toggle]"]),
     ["policy.route_override='objection_form'", "policy.routes_override=['settings_toggle']", "give one"]),
    (lambda: _add_event(compose_raw(), {"date": "2024-09-18", "regions": ["US"], "regime": "affirmative"}),
     ["policy.events.0 and policy.events.5", "regime in US on 2024-09-18", "'default_on' and 'affirmative'"]),
    (lambda: _add_event(compose_raw(), {"date": "2025-01-01", "regions": ["US"], "regime": "asks_nobody"},
                        {"asks_nobody": {"like": "default_on", "enrolment": "nobody", "request": "on_entry"}}),
     ["asks_nobody asks for consent", "enrolment (nobody) does not depend on the answer"]),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "says"), CONTRADICTIONS, ids=["both route knobs", "same day", "nobody asked"])
def test_contradictory_settings_are_refused_naming_both(raw, says):
    from sim.model.config import ConfigError

    with pytest.raises(ConfigError) as err:
        validate_config(raw())
    for text in says:
        assert text in str(err.value), (text, str(err.value))
