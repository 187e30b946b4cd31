"""Settings-discovery friction (MODEL.md section 7, "Friction"): analytic and Monte Carlo checks."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

from sim.model.random_streams import Streams
from sim.model.rules import friction


def _difficulty_for(p: float) -> float:
    """The difficulty a member of median skill passes with probability p."""
    return float(np.log((1 - p) / p))


def test_median_skill_passes_a_step_at_the_logistic_of_minus_difficulty():
    for d in (-2.0, 0.0, 0.8, 3.0):
        assert friction.step_success_probability(0.5, d, 2.0) == pytest.approx(1 / (1 + np.exp(d)))
    assert friction.step_success_probability(0.5, 0.0, 5.0) == pytest.approx(0.5)


@pytest.mark.parametrize(("p", "k"), [(0.6, 1), (0.6, 3), (0.8, 4), (0.35, 2)])
def test_a_route_of_k_steps_each_passed_with_p_completes_at_p_to_the_k(p, k):
    d = _difficulty_for(p)
    assert friction.step_success_probability(0.5, d, 2.0) == pytest.approx(p)
    assert friction.route_completion_probability(0.5, [d] * k, 2.0) == pytest.approx(p**k)
    # the skill weight cannot matter at median skill
    assert friction.route_completion_probability(0.5, [d] * k, 7.0) == pytest.approx(p**k)


@pytest.mark.parametrize(("p", "k"), [(0.6, 3), (0.8, 4)])
def test_monte_carlo_attempts_complete_at_p_to_the_k(p, k):
    n = 100_000
    members = np.arange(n)
    streams = Streams(21)
    skill = np.full(n, 0.5)
    step_p = np.stack([friction.step_success_probability(skill, _difficulty_for(p), 2.0) for _ in range(k)])
    u = np.stack([streams.uniform(f"step_test_{i}", members, 5) for i in range(k)])
    done = friction.attempt_succeeds(u, step_p)
    assert done.shape == (n,)
    expected = p**k
    assert abs(done.mean() - expected) < 5 * np.sqrt(expected * (1 - expected) / n)


def test_monte_carlo_with_varied_skill_matches_the_mean_completion_probability():
    n = 100_000
    members = np.arange(n)
    streams = Streams(3)
    skill = np.random.default_rng(0).beta(2, 2, n)
    difficulties = [-1.5, 0.8, 0.8, -2.0]
    step_p = np.stack([friction.step_success_probability(skill, d, 2.0) for d in difficulties])
    u = np.stack([streams.uniform(f"step_{i}", members, 0) for i in range(len(difficulties))])
    done = friction.attempt_succeeds(u, step_p)
    expected = friction.route_completion_probability(skill, difficulties, 2.0)
    assert expected.shape == (n,)
    mean = expected.mean()
    assert abs(done.mean() - mean) < 5 * np.sqrt(mean * (1 - mean) / n)


def test_attempt_fails_at_the_first_failed_step():
    p = np.array([0.9, 0.9, 0.9])
    assert friction.attempt_succeeds(np.array([0.1, 0.2, 0.3]), p)
    assert not friction.attempt_succeeds(np.array([0.1, 0.95, 0.3]), p)
    assert not friction.attempt_succeeds(np.array([0.95, 0.1, 0.1]), p)


def test_with_skill_weight_zero_skill_does_not_matter():
    skill = np.linspace(0, 1, 11)
    p = friction.step_success_probability(skill, 0.8, 0.0)
    np.testing.assert_allclose(p, p[0])
    c = friction.route_completion_probability(skill, [0.8, -1.0], 0.0)
    np.testing.assert_allclose(c, c[0])


def test_higher_skill_raises_success_when_skill_weight_is_positive():
    skill = np.linspace(0, 1, 11)
    p = friction.step_success_probability(skill, 0.8, 2.0)
    assert np.all(np.diff(p) > 0)


def test_higher_difficulty_lowers_success():
    d = np.linspace(-3, 3, 13)
    p = friction.step_success_probability(0.3, d, 2.0)
    assert np.all(np.diff(p) < 0)
    assert np.all((p > 0) & (p < 1))


def test_each_extra_step_lowers_route_completion():
    steps = [-1.5, 0.8, 0.8, -2.0]
    c = [friction.route_completion_probability(0.5, steps[:k], 2.0) for k in range(1, 5)]
    assert all(a > b for a, b in zip(c, c[1:], strict=False))


def test_one_hidden_layer_divides_completion_several_fold_as_calibrated():
    """ANCHORS 3 (via conf/friction): a hidden layer cuts completion by a factor of 3 to 9."""
    cfg = make_config().friction
    route = cfg.routes["settings_toggle"].steps
    steps = [s.difficulty for s in route]
    # the layer under "Data privacy" that holds the AI-training toggle (ANCHORS 8)
    without_one_layer = [s.difficulty for s in route if s.name != "data_for_generative_ai_improvement"]
    assert len(without_one_layer) == len(steps) - 1
    ratio = friction.route_completion_probability(0.5, without_one_layer, cfg.skill_weight) / (
        friction.route_completion_probability(0.5, steps, cfg.skill_weight)
    )
    assert 3 <= ratio <= 9
    # the prominent toggle is far easier than the four-step settings path
    prominent = [s.difficulty for s in cfg.routes["prominent_toggle"].steps]
    assert friction.route_completion_probability(0.5, prominent, cfg.skill_weight) > 3 * (
        friction.route_completion_probability(0.5, steps, cfg.skill_weight)
    )


def test_try_probability_decays_geometrically_with_failures():
    failures = np.arange(6)
    p = friction.try_probability(0.5, 0.7, failures)
    np.testing.assert_allclose(p, 0.5 * 0.7**failures)
    assert np.all(np.diff(p) < 0)
    assert friction.try_probability(0.5, 1.0, 10) == pytest.approx(0.5)
    assert friction.try_probability(0.5, 0.0, 1) == 0.0
