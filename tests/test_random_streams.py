"""Keyed random draws (sim.model.random_streams.Streams) against what a uniform generator must do."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model.random_streams import NEVER, Streams

N = 200_000


def _z(observed_mean: float, expected_mean: float, sd: float, n: int) -> float:
    return abs(observed_mean - expected_mean) / (sd / np.sqrt(n))


def test_uniforms_are_strictly_inside_the_unit_interval():
    u = Streams(7).uniform("visit", np.arange(N), 3)
    assert u.dtype == np.float64
    assert u.min() > 0.0
    assert u.max() < 1.0


def test_uniforms_have_mean_one_half_and_variance_one_twelfth():
    u = Streams(7).uniform("visit", np.arange(N), 3)
    assert _z(u.mean(), 0.5, np.sqrt(1 / 12), N) < 5
    assert u.var() == pytest.approx(1 / 12, rel=0.02)


def test_uniforms_fill_equal_bins_equally():
    """A chi-square check over 20 equal bins (19 degrees of freedom: 99.99% quantile is about 50)."""
    u = Streams(11).uniform("post_type", np.arange(N), 100)
    counts = np.bincount((u * 20).astype(int), minlength=20)
    expected = N / 20
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 50


def test_uniforms_pass_a_kolmogorov_smirnov_bound():
    u = np.sort(Streams(3).uniform("intent", np.arange(N), 0))
    ecdf_hi = np.arange(1, N + 1) / N
    ecdf_lo = np.arange(0, N) / N
    d = max(np.max(ecdf_hi - u), np.max(u - ecdf_lo))
    assert d < 1.95 / np.sqrt(N)  # the KS critical value at 0.1%


def test_same_seed_name_agent_and_day_give_the_same_value():
    agents = np.array([0, 5, 17, 123_456, 999_999])
    a = Streams(42).uniform("try", agents, 10)
    b = Streams(42).uniform("try", agents, 10)
    np.testing.assert_array_equal(a, b)
    # a draw does not depend on which other agents are drawn with it, nor their order
    single = np.array([Streams(42).uniform("try", np.array([i]), 10)[0] for i in agents])
    np.testing.assert_array_equal(a, single)
    np.testing.assert_array_equal(Streams(42).uniform("try", agents[::-1], 10), a[::-1])


def test_draws_do_not_depend_on_the_order_streams_are_first_used():
    s1, s2 = Streams(5), Streams(5)
    s1.uniform("a", np.arange(3), 0)
    x1 = s1.uniform("b", np.arange(10), 4)
    x2 = s2.uniform("b", np.arange(10), 4)
    np.testing.assert_array_equal(x1, x2)


@pytest.mark.parametrize(
    ("other_seed", "other_name", "other_day"),
    [(1, "visit", 0), (0, "post", 0), (0, "visit", 1), (0, "visit", -1)],
    ids=["other_seed", "other_name", "other_day", "set_up_day"],
)
def test_other_seed_name_or_day_gives_uncorrelated_draws(other_seed, other_name, other_day):
    agents = np.arange(N)
    a = Streams(0).uniform("visit", agents, 0)
    b = Streams(other_seed).uniform(other_name, agents, other_day)
    assert not np.array_equal(a, b)
    corr = np.corrcoef(a, b)[0, 1]
    assert abs(corr) < 5 / np.sqrt(N)
    # joint cells of a 4 x 4 grid are filled as independence predicts
    cells = np.bincount((a * 4).astype(int) * 4 + (b * 4).astype(int), minlength=16)
    chi2 = ((cells - N / 16) ** 2 / (N / 16)).sum()
    assert chi2 < 45  # 15 degrees of freedom, far beyond the 99.99% quantile (about 43)


def test_neighbouring_agents_are_uncorrelated():
    u = Streams(9).uniform("share", np.arange(N), 2)
    corr = np.corrcoef(u[:-1], u[1:])[0, 1]
    assert abs(corr) < 5 / np.sqrt(N)


def test_exponential_draws_have_unit_mean():
    e = Streams(2).exponential("exposure", np.arange(N), -1)
    assert e.min() > 0
    assert _z(e.mean(), 1.0, 1.0, N) < 5
    np.testing.assert_allclose(e, -np.log(Streams(2).uniform("exposure", np.arange(N), -1)))


@pytest.mark.parametrize("p", [0.9, 0.3, 0.05, 0.001])
def test_geometric_days_have_mean_one_over_p(p):
    gaps = Streams(4).geometric_days("visit", np.arange(N), 12, p)
    assert gaps.min() >= 1
    mean, sd = 1 / p, np.sqrt(1 - p) / p
    assert _z(gaps.mean(), mean, sd, N) < 5
    # the first gap is 1 with probability p (a success tomorrow)
    assert _z((gaps == 1).mean(), p, np.sqrt(p * (1 - p)), N) < 5


def test_geometric_days_edge_probabilities():
    agents = np.arange(1000)
    np.testing.assert_array_equal(Streams(0).geometric_days("visit", agents, 0, 1.0), 1)
    np.testing.assert_array_equal(Streams(0).geometric_days("visit", agents, 0, 0.0), NEVER)


def test_geometric_days_take_a_probability_per_agent():
    p = np.where(np.arange(N) % 2 == 0, 0.5, 0.02)
    gaps = Streams(8).geometric_days("post", np.arange(N), 0, p)
    assert _z(gaps[::2].mean(), 2.0, np.sqrt(0.5) / 0.5, N // 2) < 5
    assert _z(gaps[1::2].mean(), 50.0, np.sqrt(0.98) / 0.02, N // 2) < 5


def test_generator_streams_are_reproducible_and_distinct_by_name():
    a = Streams(1).generator("population").random(100)
    b = Streams(1).generator("population").random(100)
    c = Streams(1).generator("graph").random(100)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_several_streams_at_once_are_each_stream_alone():
    s, agents = Streams(9), np.array([0, 3, 17, 4_000_000_000, 12])
    names = ["step_a_0", "step_a_1", "visit"]
    many = s.uniforms(names, agents, 31)
    for k, name in enumerate(names):
        np.testing.assert_array_equal(many[k], s.uniform(name, agents, 31))
