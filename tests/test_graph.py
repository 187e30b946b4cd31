"""The sampled social graph in compressed sparse rows (sim.model.graph)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

from sim.model.graph import sample_graph
from sim.model.population import sample_population
from sim.model.random_streams import Streams


def _graph(*overrides, seed=0):
    cfg = make_config(*overrides)
    streams = Streams(seed)
    pop = sample_population(cfg.population, 0.0, streams)
    return cfg.population.graph, pop, sample_graph(cfg.population.graph, pop.slices, pop.n, streams)


@pytest.fixture(scope="module")
def default_graph():
    return _graph()


def _edges(graph):
    rows = np.repeat(np.arange(graph.indptr.size - 1), np.diff(graph.indptr))
    return rows, graph.indices.astype(np.int64)


def test_csr_is_well_formed(default_graph):
    _, pop, g = default_graph
    assert g.indptr.size == pop.n + 1
    assert g.indptr[0] == 0 and g.indptr[-1] == g.indices.size
    assert np.all(np.diff(g.indptr) >= 0)
    assert g.indices.min() >= 0 and g.indices.max() < pop.n


def test_graph_is_symmetric_with_multiplicity(default_graph):
    _, pop, g = default_graph
    rows, cols = _edges(g)
    forward = np.sort(rows * pop.n + cols)
    backward = np.sort(cols * pop.n + rows)
    np.testing.assert_array_equal(forward, backward)


def test_graph_has_no_self_loops(default_graph):
    _, _, g = default_graph
    rows, cols = _edges(g)
    assert not np.any(rows == cols)


def test_mean_degree_is_near_mean_contacts(default_graph):
    cfg, pop, g = default_graph
    assert g.degree.mean() == pytest.approx(cfg.mean_contacts, rel=0.05)
    # heavy-tailed: some members have many more contacts than the mean
    assert g.degree.max() > 4 * cfg.mean_contacts


def _same_region_share(pop, g):
    rows, cols = _edges(g)
    return np.mean(pop.region[rows] == pop.region[cols])


def test_same_region_share_is_near_the_config(default_graph):
    """A tie drawn 'anywhere' may still land in the same region: expected s + (1 - s) * sum(n_r/n)^2."""
    cfg, pop, g = default_graph
    s = cfg.same_region_share
    sizes = np.array([sl.stop - sl.start for sl in pop.slices]) / pop.n
    expected = s + (1 - s) * np.sum(sizes**2)
    assert _same_region_share(pop, g) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_same_region_share_extremes(share):
    _, pop, g = _graph(f"population.graph.same_region_share={share}")
    got = _same_region_share(pop, g)
    if share == 1.0:
        assert got == 1.0
    else:
        sizes = np.array([sl.stop - sl.start for sl in pop.slices]) / pop.n
        assert got == pytest.approx(np.sum(sizes**2), abs=0.01)


def test_no_contacts_gives_an_empty_graph():
    _, pop, g = _graph("population.graph.mean_contacts=0")
    assert g.indices.size == 0 and np.all(g.indptr == 0)


def test_same_seed_same_graph():
    _, _, a = _graph(seed=3)
    _, _, b = _graph(seed=3)
    _, _, c = _graph(seed=4)
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indptr, c.indptr)


def test_the_graph_does_not_depend_on_the_block_size_of_its_draws(monkeypatch):
    """The ties are drawn a block at a time to bound the set-up's memory: any block size gives
    the same graph (a Generator's doubles do not depend on how many are asked for at once)."""
    from sim.model import graph

    _, _, whole = _graph(seed=2)
    monkeypatch.setattr(graph, "CHUNK_TIES", 997)
    _, _, blocks = _graph(seed=2)
    np.testing.assert_array_equal(whole.indptr, blocks.indptr)
    np.testing.assert_array_equal(whole.indices, blocks.indices)
