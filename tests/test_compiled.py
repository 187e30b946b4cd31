"""The compiled loops (numba, sim.model.compiled) give what their numpy twins give, bit for bit,
so a machine without numba, or SIM_COMPILED=0, runs the same model."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from sim.model import random_streams, search
from sim.model.compiled import njit

pytestmark = pytest.mark.skipif(njit is None, reason="numba is not installed: only the numpy code runs")


def test_the_compiled_segment_search_equals_the_numpy_one():
    rng = np.random.default_rng(7)
    for dtype in (np.float64, np.float32):  # the member thresholds are float32
        segments = [np.sort(rng.random(rng.integers(0, 40))).astype(dtype) for _ in range(50)]
        values = np.concatenate(segments)
        bounds = np.concatenate([[0], np.cumsum([s.size for s in segments])])
        k = rng.integers(0, 50, 2000)
        lo = bounds[k] + rng.integers(0, 5, 2000)  # some past their segment's end: no search
        hi = bounds[k + 1]
        x = rng.random(2000) * 1.2
        x[::97] = np.nan  # no value is >= NaN: the segment's end, in both
        x[::89] = values[np.minimum(lo, values.size - 1)][::89]  # ties: the first equal value
        got = search.lower_bound(values, lo, hi, x)
        assert got.dtype == np.int64 and np.array_equal(got, search.lower_bound_numpy(values, lo, hi, x))


def test_the_compiled_event_day_scan_equals_the_numpy_one(monkeypatch):
    values = np.random.default_rng(5).integers(0, 852, 100_000).astype(np.int16)  # days, as stored
    compiled = [search.equal_indices(values, t) for t in (0, 400, 851, 32767)]
    monkeypatch.setattr(search, "_equal_indices_compiled", None)
    for t, got in zip((0, 400, 851, 32767), compiled, strict=True):
        assert np.array_equal(got, search.equal_indices(values, t))


def test_the_compiled_row_layout_of_the_graph_equals_a_stable_argsort(monkeypatch):
    from sim.model import graph

    rng = np.random.default_rng(6)
    a, b = rng.integers(0, 500, 5000).astype(np.int32), rng.integers(0, 500, 5000).astype(np.int32)
    compiled = graph._csr(a, b, 500)
    monkeypatch.setattr(graph, "_fill_rows_compiled", None)
    expected = graph._csr(a, b, 500)
    assert np.array_equal(compiled.indptr, expected.indptr) and np.array_equal(compiled.indices, expected.indices)


@pytest.mark.parametrize("shape", [(0,), (1,), (1000,), (4, 25)])
def test_compiled_keyed_draws_equal_the_numpy_ones(monkeypatch, shape):
    rng = np.random.default_rng(3)
    index = rng.integers(0, 10**6, shape)
    alone = random_streams.Streams(11)
    batch = random_streams.BatchStreams([random_streams.Streams(s) for s in (1, 2, 3)], np.array([0, 4, 10**5, 10**6]))

    def draws():
        return [s.uniform("visit", index, 17) for s in (alone, batch)] + [alone.uniforms(["a", "b"], index, 3)]

    compiled = draws()
    monkeypatch.setattr(random_streams, "_keyed_uniform_compiled", None)
    for got, expected in zip(compiled, draws(), strict=True):
        assert got.shape == expected.shape and np.array_equal(got, expected)


def test_a_model_run_without_the_compiled_loops_gives_the_same_records(tmp_path):
    """Every mechanism on, so every compiled loop is on the path; the numpy run is a subprocess
    with SIM_COMPILED=0 (the switch is read at import)."""
    code = """
import sys, numpy as np
from sim.model import random_streams, search
from sim.model.batch import simulate_many
from sim.model.config import validate_config
from sim.run.compose import EVERY_MECHANISM_ON, compose_raw
config = validate_config(compose_raw(["population.agents=3000", "end=2025-06-30", *EVERY_MECHANISM_ON]))
compiled = sys.argv[2] == "1"
assert (random_streams._keyed_uniform_compiled is not None) == compiled
assert (search._lower_bound_compiled is not None) == compiled
np.save(sys.argv[1], simulate_many([config])[0])
"""
    runs = {}
    for flag in ("0", "1"):
        env = {**os.environ, "SIM_COMPILED": flag}
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"{flag}.npy"), flag], env=env,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        runs[flag] = np.load(tmp_path / f"{flag}.npy")
    assert np.array_equal(runs["0"], runs["1"])
