"""Settings-discovery friction and motivated completion (docs/ODD.md §7.6, sim/model/rules/friction.py).

Analytic and Monte Carlo checks of a route's completion; the search offset (`search_offset`
inverts the searched completion; no offset is the inattentive figure, a large one the visible
steps' cap; a deeper switch still costs a searcher); giving up after a failure (1 /
`attempts_per_intent`, exactly so in the engine); directions of effect on a small run (a larger
offset or more attempts per intent give more opt-outs; printed steps matter only above the
unguided offset; a prompt is answered inattentively, whatever the offset).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config, run_cached

from sim.model.engine import ConsentModel
from sim.model.metrics import INDEX
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


# ---------------------------------------------------------------- motivated completion: the search offset
TOGGLE = "settings_toggle"  # the real four-step path (ANCHORS 8): what an offset's meaning is told on


def _toggle():
    """The shipped toggle's step difficulties, the hidden threshold and the skill weight."""
    cfg = make_config().friction
    return [st.difficulty for st in cfg.routes[TOGGLE].steps], cfg.hidden_above, cfg.skill_weight


def _searched_completion(offset: float, steps=None) -> float:
    """Completion of the toggle (or `steps`) at median skill with its hidden steps searched."""
    toggle, hidden_above, weight = _toggle()
    steps = toggle if steps is None else steps
    searched = friction.searched_difficulty(steps, offset, hidden_above)
    return float(friction.route_completion_probability(0.5, searched, weight))


def test_the_toggle_has_hidden_and_visible_steps():
    steps, hidden_above, _ = _toggle()
    assert sum(d > hidden_above for d in steps) == 2 and sum(d <= hidden_above for d in steps) == 2


@pytest.mark.parametrize("success", [0.05, 0.1, 0.3, 0.5, 0.7])
def test_search_offset_inverts_the_searched_completion(success):
    steps, hidden_above, _ = _toggle()
    offset = friction.search_offset(success, steps, hidden_above)
    assert _searched_completion(offset) == pytest.approx(success, abs=1e-9)


def test_searching_changes_only_the_hidden_steps():
    d = np.array([-1.5, 1.472, 1.472, -2.0, 0.0])
    np.testing.assert_allclose(friction.searched_difficulty(d, 2.0, 0.0), [-1.5, -0.528, -0.528, -2.0, 0.0])
    np.testing.assert_allclose(friction.searched_difficulty(d, 0.0, 0.0), d)
    # a higher threshold leaves the 1.472 steps visible too
    np.testing.assert_allclose(friction.searched_difficulty(d, 2.0, 1.5), d)


def test_no_offset_is_the_inattentive_completion_and_a_large_one_the_visible_steps_cap():
    steps, hidden_above, weight = _toggle()
    inattentive = float(friction.route_completion_probability(0.5, steps, weight))
    assert 0.003 < inattentive < 0.05  # ANCHORS 3: two hidden layers, each dividing completion by 3 to 9
    assert _searched_completion(0.0) == pytest.approx(inattentive)
    visible = float(friction.route_completion_probability(0.5, [d for d in steps if d <= hidden_above], weight))
    assert 0.7 < visible < 0.75  # the conf comment: the visible steps cap it at 72%
    assert _searched_completion(friction.MAX_SEARCH_OFFSET) == pytest.approx(visible)
    assert friction.search_offset(inattentive * 0.8, steps, hidden_above) == 0.0
    assert friction.search_offset(visible * 1.01, steps, hidden_above) == friction.MAX_SEARCH_OFFSET


def test_a_deeper_hidden_switch_still_costs_a_searching_member_completions():
    """The offset is a search's gain per hidden step, not a success rate held fixed: a design that
    hides the switch behind one more layer loses motivated completions too."""
    steps, _, _ = _toggle()
    deeper = [*steps[:2], steps[1], *steps[2:]]  # one more hidden layer
    for offset in (0.5, 2.0, 4.0):  # the extra layer multiplies completion by its own searched pass rate
        extra_layer = 1.0 / (1.0 + np.exp(steps[1] - offset))
        assert _searched_completion(offset, deeper) == pytest.approx(extra_layer * _searched_completion(offset))
        assert extra_layer < 0.95


def test_the_shipped_offsets_lie_between_inattentive_and_the_visible_cap():
    cfg = make_config()  # the fit may put the guided offset below the unguided one: then it changes nothing
    for offset in (cfg.friction.motivated_search_offset, cfg.guidance.search_offset):
        assert 0.0 < offset < friction.MAX_SEARCH_OFFSET


# ---------------------------------------------------------------- persistence: giving up
def test_giving_up_after_a_failure_is_one_over_the_attempts_per_intent():
    np.testing.assert_allclose(friction.give_up_probability(np.array([1.0, 2.0, 3.0, 10.0])), [1.0, 0.5, 1 / 3, 0.1])
    # a member who never stops intending makes a geometric number of attempts, with mean A
    n, a = 200_000, 3.0
    attempts = np.random.default_rng(1).geometric(friction.give_up_probability(a), n)
    assert abs(attempts.mean() - a) < 5 * np.sqrt(a * (a - 1) / n)


# ---------------------------------------------------------------- the engine: a small run with heavy coverage
SMALL_HEAVY = (
    "population.agents=3000",
    "population.min_agents_per_region=100",
    "end=2024-12-31",
    "awareness.media.extra_events=[{date:'2024-09-20',regions:[all],level:high},{date:'2024-10-20',regions:[all],level:high}]",
)


def _last(model, metric: str) -> float:
    return float(model.records[-1, -1, INDEX[metric]])


def test_with_one_attempt_per_intent_every_failure_gives_up():
    model = run_cached(*SMALL_HEAVY, "friction.attempts_per_intent=1")
    failures = int(model.failed_attempts.sum())
    assert failures > 50  # enough failures for the equality below to mean something
    assert int(model.state.gave_up.sum()) == failures


def test_a_failure_gives_up_with_one_over_the_attempts_per_intent():
    a = 3.0
    model = run_cached(*SMALL_HEAVY, f"friction.attempts_per_intent={a}")
    failures, gave_up = model.failed_attempts.sum(), model.state.gave_up.sum()
    assert failures > 50  # enough failures for the binomial check below to have power
    assert abs(gave_up - failures / a) < 4 * np.sqrt(failures * (1 / a) * (1 - 1 / a))


def test_a_larger_search_offset_gives_more_opt_outs_and_fewer_failures():
    runs = [run_cached(*SMALL_HEAVY, f"friction.motivated_search_offset={d}") for d in (0.5, 2.0, 4.0)]
    opted = [_last(m, "opted_out_share") for m in runs]
    failed = [_last(m, "failed_attempts") for m in runs]
    gave_up = [_last(m, "gap_gave_up_share") for m in runs]
    assert opted[0] < opted[1] < opted[2]
    assert failed[0] > failed[1] > failed[2]
    assert gave_up[0] > gave_up[1] > gave_up[2]


def test_more_attempts_per_intent_give_more_opt_outs_more_failures_and_fewer_who_give_up():
    """Persistence converts more intents, at the cost of more failed attempts along the way (each
    intent fails more often before it succeeds or lapses); fewer objectors are left having given up."""
    runs = [run_cached(*SMALL_HEAVY, f"friction.attempts_per_intent={a}") for a in (1.0, 3.0, 10.0)]
    opted = [_last(m, "opted_out_share") for m in runs]
    failed = [_last(m, "failed_attempts") for m in runs]
    gave_up = [_last(m, "gap_gave_up_share") for m in runs]
    assert opted[0] < opted[1] < opted[2]
    assert failed[0] < failed[1] < failed[2]
    assert gave_up[0] > gave_up[1] > gave_up[2]


def test_printed_steps_matter_only_above_the_unguided_offset():
    unguided = make_config(*SMALL_HEAVY).friction.motivated_search_offset
    below = [run_cached(*SMALL_HEAVY, f"guidance.search_offset={g}") for g in (0.0, unguided / 2, unguided)]
    above = run_cached(*SMALL_HEAVY, f"guidance.search_offset={unguided + 2}")
    assert below[0].records[:, -1, INDEX["guided_share"]].max() > 0.1  # members were guided
    for other in below[1:]:  # max(unguided, guided): a guided offset below the unguided one does nothing
        np.testing.assert_array_equal(below[0].records, other.records)
    assert _last(above, "opted_out_share") > _last(below[0], "opted_out_share")
    assert _last(above, "failed_attempts") < _last(below[0], "failed_attempts")


# A prompt whose one step is made hidden (above `hidden_above`): were prompts answered with a search,
# the search offset would move its answers. No route to act: a prompt-only scenario.
PROMPT_ONLY = (
    *SMALL_HEAVY,
    "policy.notice_override=[prompt]",
    "policy.routes_override=[]",
    "friction.routes.prompt.steps.0.difficulty=1.0",
)


def _records(overrides, motivated_prompts: bool, monkeypatch) -> np.ndarray:
    if motivated_prompts:  # the counterfactual rule: a prompt answered as a member acting on intent would
        passes = ConsentModel._passes_route

        def searching(self, members, route, stream, t, motivated=True):
            return passes(self, members, route, stream, t, motivated=True)

        monkeypatch.setattr(ConsentModel, "_passes_route", searching)
    model = ConsentModel(make_config(*overrides))
    while model.running:
        model.step()
    monkeypatch.undo()
    return model.records


def test_a_prompts_answers_do_not_depend_on_the_search_offset(monkeypatch):
    low = run_cached(*PROMPT_ONLY, "friction.motivated_search_offset=0.5")
    high = run_cached(*PROMPT_ONLY, "friction.motivated_search_offset=4")
    answered = _last(low, "opted_out_via_prompt_share") + _last(low, "opted_in_via_prompt_share")
    assert answered > 0.02  # prompts were answered
    assert _last(low, "failed_attempts") == 0  # and nothing else was tried
    np.testing.assert_array_equal(low.records, high.records)
    # the check can fail: answered with a search, the prompt's answers would follow the offset
    searched = [_records((*PROMPT_ONLY, f"friction.motivated_search_offset={d}"), True, monkeypatch) for d in (0.5, 4)]
    via_prompt = INDEX["opted_out_via_prompt_share"]
    assert searched[1][-1, -1, via_prompt] > searched[0][-1, -1, via_prompt]


def test_with_a_route_open_the_same_scenario_does_depend_on_the_search_offset():
    common = tuple(o for o in PROMPT_ONLY if not o.startswith("policy.routes_override"))
    low = run_cached(*common, "friction.motivated_search_offset=0.5")
    high = run_cached(*common, "friction.motivated_search_offset=4")
    assert _last(high, "opted_out_via_settings_share") > _last(low, "opted_out_via_settings_share")
