"""The sensitivity script runs end to end on a tiny design and writes its tables and report; its
design runner (sim.analysis.design_runner) resumes from its store (sim.analysis.chunk_store) and
never uses a damaged chunk."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import chunk_store, design_runner
from sim.analysis.sensitivity import NOISE_SETS, load_spec, output_names, seed_noise

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("sensitivity", ROOT / "experiments" / "sensitivity.py")
sensitivity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sensitivity)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # one trajectory: Morris sigma is undefined
def test_tiny_sensitivity_run_writes_morris_sobol_and_report(tmp_path):
    args = ["--agents", "1000", "--trajectories", "1", "--sobol-n", "2", "--top", "2", "--jobs", "1"]
    out = ["--out", str(tmp_path), "--data-out", str(tmp_path / "sensitivity"), "--store", str(tmp_path / "store")]
    assert sensitivity.main([*args, *out]) == 0
    morris = pd.read_csv(tmp_path / "sensitivity" / "morris.csv")
    spec_parameters = {p["name"] for p in load_spec()["parameters"]}
    assert set(morris.parameter) == spec_parameters
    assert (morris.mu_star >= 0).all()
    sobol = pd.read_csv(tmp_path / "sensitivity" / "sobol.csv")
    assert sobol.parameter.nunique() == 2
    assert sobol.seed_noise.notna().any()  # the population draw's share is measured per output
    report = (tmp_path / "SENSITIVITY.md").read_text()
    assert "What drives what" in report and "linkedin_actual/default_on_2024/enrolled_share" in report
    assert (tmp_path / "sensitivity" / "sensitivity.png").stat().st_size > 1000
    # run again: everything comes from the store, and the run time is still the whole design's
    assert sensitivity.main([*args, *out]) == 0
    meta = json.loads((tmp_path / "sensitivity" / "sensitivity.json").read_text())
    assert meta["sets_run"] == 0
    assert meta["run_time"]["sets_timed"] == meta["sets_total"] and meta["run_time"]["wall_seconds"] > 0
    assert "Run time: the " in (tmp_path / "SENSITIVITY.md").read_text()


def test_outputs_are_named_per_policy_group_and_metric():
    spec = load_spec()
    names = output_names(spec)
    assert len(names) == len(spec["policies"]) * len(spec["region_groups"]) * len(spec["outputs"])


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the optional [ray] extra is not installed")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_sensitivity_runs_its_design_on_a_local_ray(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "local")
    args = ["--agents", "1000", "--trajectories", "1", "--sobol-n", "2", "--top", "2", "--jobs", "2"]
    # nothing into the package or the project's outputs
    out = ["--out", str(tmp_path), "--data-out", str(tmp_path / "sensitivity"), "--store", str(tmp_path / "store")]
    assert sensitivity.main([*args, "--backend", "ray", *out]) == 0
    assert (tmp_path / "sensitivity" / "sobol.csv").exists()


def test_seed_noise_is_nothing_for_a_shifted_rescaled_copy_and_all_for_independent_outputs():
    """Indices do not change under a shift or rescaling of the output: a seed that only does that
    adds no noise; a seed whose outputs are unrelated to the design's makes them all noise."""
    rng = np.random.default_rng(1)
    k = 3  # parameters: the Saltelli sample's base rows are every (k + 2)th
    X2 = rng.random((64 * (k + 2), k))
    Y2 = np.column_stack([rng.normal(size=len(X2)), rng.normal(size=len(X2)), np.ones(len(X2))])
    base = np.arange(0, len(X2), k + 2)[:NOISE_SETS]

    def copy(X, offset):
        assert np.array_equal(X, X2[base])  # only the base rows are rerun
        return 3.0 * Y2[base] + offset

    def unrelated(X, offset):
        return np.random.default_rng(offset).normal(size=(len(X), Y2.shape[1]))

    same = seed_noise(X2, Y2, k, copy)
    assert np.allclose(same[:2], 0.0) and np.isnan(same[2])  # a constant output has no share
    assert (seed_noise(X2, Y2, k, unrelated)[:2] > 0.6).all()


X_TINY = np.array([[0.2, 1.5], [0.5, 2.0], [0.8, 3.0], [0.9, 5.0]])  # try_prob, attempts_per_intent


def _tiny_design(store: Path):
    """Four sets of two parameters, 500 agents to 2024-12-31, in two chunks, run into `store`."""
    from sim.analysis.calibration import shipped_raw

    spec = load_spec()
    parameters = [p for p in spec["parameters"] if p["name"] in ("try_prob", "attempts_per_intent")]
    names = [p["name"] for p in parameters]
    bases = {policy: shipped_raw([f"policy={policy}", "end=2024-12-31"]) for policy in spec["policies"]}

    def run(seed):
        return design_runner.run_design("sobol", X_TINY, names, parameters, bases, spec, 500, seed, 2, store=store)

    return run


def test_a_cut_off_design_resumes_from_its_store_with_the_same_outputs(tmp_path):
    """Each finished chunk is stored; a rerun runs only what is missing and gives the same outputs,
    and a changed design (another seed) never takes stored outputs."""
    X, run = X_TINY, _tiny_design(tmp_path)
    first, ran, _ = run(0)
    assert ran == len(X) and first.shape == (len(X), len(output_names(load_spec())))
    (folder,) = tmp_path.iterdir()
    chunks = sorted(folder.glob("*.npy"))
    assert len(chunks) == 2
    chunks[1].unlink()  # as if the run had been cut off before its last chunk
    again, ran, _ = run(0)
    assert ran == 2 and np.array_equal(again, first)
    _, ran, timed = run(0)
    assert ran == 0  # all stored now
    # both invocations' chunks are timed, the rerun chunk once; a cut-off timing line is skipped
    assert timed["sets"] == len(X) and timed["wall_s"] > 0 and timed["jobs"] == [2]
    with open(folder / chunk_store.TIMING, "a", encoding="utf-8") as f:
        f.write('{"chunk": 0, "se')
    assert chunk_store.design_time(folder) == timed
    other, ran, _ = run(1)
    assert ran == len(X) and not np.array_equal(other, first)


@pytest.mark.parametrize("damage", ["cut short", "not a chunk", "other values", "wrong shape"])
def test_a_damaged_chunk_is_reported_and_run_again_never_used(tmp_path, capsys, damage):
    """A stored chunk cut short (a full disk), replaced by another file, altered, or of another
    shape is named on stderr with what is wrong, and its sets are run again: the outputs are those
    of a clean run."""
    run = _tiny_design(tmp_path)
    first, _, _ = run(0)
    (folder,) = tmp_path.iterdir()
    chunk = sorted(folder.glob("*.npy"))[1]
    data = chunk.read_bytes()
    if damage == "cut short":
        chunk.write_bytes(data[: len(data) // 2])
    elif damage == "not a chunk":
        chunk.write_text("not a numpy file")
    elif damage == "other values":  # still a valid .npy of the right shape: only the digest tells
        np.save(chunk, np.load(chunk) + 1.0)
    else:
        np.save(chunk, np.zeros((1, 3)))
        lines = (folder / chunk_store.TIMING).read_text().splitlines()  # as an older store: no digest
        (folder / chunk_store.TIMING).write_text("\n".join(line.replace('"sha256"', '"old"') for line in lines))
    capsys.readouterr()
    again, ran, _ = run(0)
    assert ran == 2 and np.array_equal(again, first)
    err = capsys.readouterr().err
    assert f"{chunk}: damaged chunk" in err and "running its 2 sets again" in err
    expected = {"cut short": "unreadable", "not a chunk": "unreadable", "other values": "sha256",
                "wrong shape": "expected float64 of shape (2, "}[damage]  # fmt: skip
    assert expected in err
