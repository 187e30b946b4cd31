"""The calibration: targets and priors as data, the shipped posterior, its medians as the defaults,
and a posterior predictive check of every target (conf/calibration/targets.yaml)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.calibration import evaluate_many, load_targets, shipped_raw, with_values
from sim.analysis.posterior import load_posterior
from sim.core.compose import get_key, set_key

ROOT = Path(__file__).resolve().parent.parent
TARGETS, PARAMETERS, NUISANCE = load_targets()
POSTERIOR = load_posterior()
PPC_DRAWS = 8
PPC_AGENTS = 1_000  # the calibration's own agent count (posterior.json records it)


def _support(prior: dict) -> tuple[float, float]:
    ((kind, (low, high)),) = prior.items()
    assert kind in ("uniform", "loguniform")
    return low, high


def test_every_target_names_its_anchor_and_every_parameter_its_prior_reason_and_targets():
    ids = {t.id for t in TARGETS}
    assert all(t.anchor.startswith("ANCHORS") and t.source and t.tolerance > 0 for t in TARGETS)
    for p in PARAMETERS + NUISANCE:
        low, high = _support(p["prior"])
        assert low < high and len(p["reason"]) > 20, p["name"]
    assert all(set(p["targets"]) <= ids for p in PARAMETERS)
    assert all(set(p["scenarios"]) <= ids for p in NUISANCE)


def test_the_shipped_posterior_is_a_weighted_sample_inside_the_priors():
    assert POSTERIOR.values.shape[0] >= 500
    assert np.isclose(POSTERIOR.weights.sum(), 1.0) and (POSTERIOR.weights >= 0).all()
    priors = {p["name"]: p["prior"] for p in PARAMETERS + NUISANCE}
    assert set(POSTERIOR.names) == set(priors)
    for j, name in enumerate(POSTERIOR.names):
        low, high = _support(priors[name])
        assert (POSTERIOR.values[:, j] >= low).all() and (POSTERIOR.values[:, j] <= high).all(), name
    assert POSTERIOR.provenance["library"].startswith("pyabc")


def test_the_shipped_defaults_are_the_posterior_medians_and_say_so():
    from sim.reports.parameter_table import parameters

    raw, median = shipped_raw(), POSTERIOR.median()
    sources = {p.key: p.source for p in parameters()}
    for p in PARAMETERS:
        for key in p["keys"]:
            value = get_key(raw, key)
            value = value["default"] if isinstance(value, dict) else value
            assert value == pytest.approx(median[p["name"]], rel=1e-3), key
            assert "posterior median" in sources[key], f"{key}: {sources[key]}"


@pytest.fixture(scope="module")
def predictive() -> dict[str, np.ndarray]:
    """Every target's model value over posterior draws (each draw at its own seed)."""
    base = shipped_raw()
    sets = [
        (with_values(base, PARAMETERS, values), k, values)
        for k, values in enumerate(POSTERIOR.draws(PPC_DRAWS, seed=1))
    ]
    runs = evaluate_many(sets, TARGETS, PPC_AGENTS, NUISANCE)
    return {t.id: np.array([r[t.id] for r in runs]) for t in TARGETS}


# The shipped model changed on purpose (every mechanism ships on) after the shipped posterior was
# fitted: the window's end is no longer covered, and stays marked until the posterior is refitted on
# the shipped model (strict: the mark fails once it is covered, so it cannot outlive the refit).
REFIT_PENDING = {"mhr_window_end"}


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(
            t, marks=pytest.mark.xfail(strict=True, reason="posterior fitted before every mechanism shipped on")
        )
        if t.id in REFIT_PENDING
        else t
        for t in TARGETS
    ],
    ids=[t.id for t in TARGETS],
)
def test_the_posterior_predictive_interval_covers_the_target(target, predictive):
    """The model's spread over posterior draws, widened by the target's measurement error (2 sd),
    contains the target's value."""
    values = predictive[target.id]
    low, high = values.min() - 2 * target.tolerance, values.max() + 2 * target.tolerance
    assert low <= target.value <= high, f"{target.id}: model {values.round(4)}, target {target.value}"


def test_scenario_settings_replace_rather_than_merge():
    raw = shipped_raw()
    set_key(raw, "population.login_segments", {"daily": {"share": 1.0, "rate_per_day": 24.0}})
    assert list(raw["population"]["login_segments"]) == ["daily"]
    changed = with_values(raw, PARAMETERS, {"try_prob": 0.123})
    assert get_key(changed, "friction.try_prob") == 0.123
    assert get_key(raw, "friction.try_prob") != 0.123  # the input is not modified


@pytest.mark.skipif(importlib.util.find_spec("pyabc") is None, reason="pyabc (the calibrate extra) not installed")
def test_abc_smc_writes_a_posterior_and_resumes(tmp_path):
    """A tiny ABC-SMC run writes the posterior files; --resume continues it in the same database."""
    import subprocess

    db, out = tmp_path / "abc.db", tmp_path / "posterior"
    common = ["--agents", "300", "--population", "6", "--cores", "1", "--timing-sets", "1", "--epsilon-quantile", "0.5",
              "--db", str(db), "--out", str(out)]  # fmt: skip
    cmd = [sys.executable, str(ROOT / "experiments" / "calibrate.py"), *common]
    done = subprocess.run([*cmd, "--generations", "1"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    first = load_posterior(out)
    assert first.values.shape == (6, len(PARAMETERS) + len(NUISANCE)) and first.provenance["generations"] == 1
    priors = {p["name"]: p["prior"] for p in PARAMETERS + NUISANCE}
    for j, name in enumerate(first.names):  # on the model's scale, whatever scale pyabc sampled on
        low, high = _support(priors[name])
        assert ((first.values[:, j] >= low) & (first.values[:, j] <= high)).all(), name
    done = subprocess.run([*cmd, "--generations", "1", "--resume"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    resumed = load_posterior(out).provenance
    assert resumed["generations"] == 2  # one more generation on top of the first
    assert 1 <= resumed["effective_sample_size"] <= 6
    assert len(resumed["sessions"]) == 2 and "--resume" in resumed["sessions"][1]["command"]
    assert resumed["wall_seconds"] == pytest.approx(sum(x["wall_seconds"] for x in resumed["sessions"]), abs=0.2)


def _calibrate():
    spec = importlib.util.spec_from_file_location("calibrate", ROOT / "experiments" / "calibrate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_write_conf_changes_exactly_the_calibrated_keys(tmp_path):
    """--write-conf on a copy of conf/: each calibrated key's line gets the median (4 significant
    digits) and a comment naming its targets and keeping its meaning before calibration; every
    other line of every file is as it was."""
    import shutil

    import yaml

    from sim.core.conf_yaml import ConfFile, leaves

    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    before = {p: p.read_text(encoding="utf-8") for p in sorted(conf.rglob("*.yaml"))}
    medians = {name: value * 1.01 for name, value in POSTERIOR.median().items()}  # every value moves
    notes = {p["name"]: p["targets"] for p in PARAMETERS}
    changed = _calibrate().write_conf(medians, notes, conf_dir=conf)
    calibrated = {key: p for p in PARAMETERS for key in p["keys"]}
    assert changed == [f"{key} = {medians[p['name']]:.4g}" for key, p in calibrated.items()]
    for path, text in before.items():
        after, old = path.read_text(encoding="utf-8"), ConfFile(text)
        group = path.parent.name
        mine = {k.split(".", 1)[1]: p for k, p in calibrated.items() if k.startswith(f"{group}.")}
        if path.name != "default.yaml" or not mine:
            assert after == text, path
            continue
        a, b = text.splitlines(), after.splitlines()
        assert len(a) == len(b)
        assert {i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y} == {old.line(k) for k in mine}
        new, was = leaves(yaml.safe_load(after)), leaves(yaml.safe_load(text))
        assert {k for k in was if new[k] != was[k]} == set(mine), path  # only the calibrated values moved
        reread = ConfFile(after)
        for key, p in mine.items():
            assert new[key] == float(f"{medians[p['name']]:.4g}")
            meaning = old.comment(key).split("; before calibration:")[-1].strip()
            assert reread.source(key) == (
                f"posterior median, calibrated against {', '.join(p['targets'])} "
                f"(experiments/calibrate.py, docs/CALIBRATION.md); before calibration: {meaning}"
            )


def test_write_conf_with_the_shipped_medians_leaves_conf_as_it_is(tmp_path):
    import shutil

    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    before = {p: p.read_text(encoding="utf-8") for p in sorted(conf.rglob("*.yaml"))}
    _calibrate().write_conf(POSTERIOR.median(), {p["name"]: p["targets"] for p in PARAMETERS}, conf_dir=conf)
    assert {p: p.read_text(encoding="utf-8") for p in before} == before


def _foreign_pyabc_db(path: Path) -> None:
    """An SQLite file with pyabc's tables holding a fit of another parameter against another target."""
    import sqlite3

    with sqlite3.connect(path) as con:
        for table in ("abc_smc", "populations", "particles"):
            con.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
        con.execute("CREATE TABLE parameters (id INTEGER PRIMARY KEY, name TEXT)")
        con.execute("CREATE TABLE summary_statistics (id INTEGER PRIMARY KEY, name TEXT)")
        con.execute("INSERT INTO abc_smc (id) VALUES (1)")
        con.execute("INSERT INTO parameters (name) VALUES ('some_rate')")
        con.execute("INSERT INTO summary_statistics (name) VALUES ('some_target')")
    con.close()


@pytest.mark.parametrize(
    "database, says",
    [
        ("missing", "no such file"),
        ("empty", "the file is empty"),
        ("text", "not an SQLite database"),
        ("other sqlite", "an SQLite database without pyabc's tables"),
        ("other fit", "a fit of other parameters or targets"),
    ],
)
def test_resume_on_a_database_without_this_fit_says_so_and_creates_nothing(tmp_path, capsys, database, says):
    """--resume on a missing, empty or foreign database: one line naming the file and what is
    expected, the documented exit status, before any simulation, and no file left behind."""
    import sqlite3

    db = tmp_path / "outputs" / "abc.db"
    if database != "missing":
        db.parent.mkdir()
        if database == "empty":
            db.touch()
        elif database == "text":
            db.write_text("id,value\n1,2\n")
        elif database == "other sqlite":
            with sqlite3.connect(db) as con:
                con.execute("CREATE TABLE notes (text TEXT)")
            con.close()
        else:
            _foreign_pyabc_db(db)
    before = sorted((p, p.stat().st_size) for p in tmp_path.rglob("*"))
    calibrate = _calibrate()
    args = ["--resume", "--db", str(db), "--out", str(tmp_path / "posterior"), "--agents", "300", "--cores", "1"]
    assert calibrate.main(args) == calibrate.EXIT_NOT_RESUMABLE == 2
    err = capsys.readouterr().err
    assert f"error: {db}: {says}" in err and "--resume" in err and "Traceback" not in err
    assert sorted((p, p.stat().st_size) for p in tmp_path.rglob("*")) == before  # nothing created or changed


def test_the_report_gives_every_parameter_and_target_from_the_posterior(tmp_path):
    """calibration_report.py on a copy of the shipped posterior: a row per parameter and per target,
    both figures, and the predictive record the brief reads."""
    import json
    import shutil

    from sim.analysis.posterior import POSTERIOR_DIR, PREDICTIVE_FILE

    spec = importlib.util.spec_from_file_location("calibration_report", ROOT / "experiments" / "calibration_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    posterior = tmp_path / "posterior"
    posterior.mkdir()
    for name in ("posterior.csv", "posterior.json"):
        shutil.copy(POSTERIOR_DIR / name, posterior / name)
    out = tmp_path / "docs" / "CALIBRATION.md"
    args = ["--draws", "2", "--agents", "300", "--noise-seeds", "2", "--out", str(out)]
    assert module.main([*args, "--posterior-dir", str(posterior)]) == 0
    text = out.read_text()
    assert all(f"| {p['name']} |" in text for p in PARAMETERS + NUISANCE)
    assert all(f"| {t.id} | {t.anchor} |" in text for t in TARGETS)
    assert all((out.parent / "calibration" / f).exists() for f in ("corner.png", "predictive.png"))
    record = json.loads((posterior / PREDICTIVE_FILE).read_text())
    assert record["draws"] == 2 and set(record["values"]) == {t.id for t in TARGETS}
    assert all(sd >= 0 for sd in record["seed_sd_at_median"].values())


def test_the_effective_sample_size_counts_equal_weights_fully_and_one_dominant_weight_once():
    from sim.analysis.posterior import effective_sample_size

    assert effective_sample_size(np.ones(500)) == pytest.approx(500)
    assert effective_sample_size([1.0, 0, 0, 0]) == pytest.approx(1)
    assert effective_sample_size([3.0, 1.0]) == pytest.approx(16 / 10)  # (3+1)^2 / (9+1)
    assert POSTERIOR.effective_sample_size() <= len(POSTERIOR.weights)
