"""Consent status, intent and prompt answers (MODEL.md section 7, "Intent")."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import make_config

from sim.model.config import PromptAnswerConfig
from sim.model.regimes import AFFIRMATIVE, DEFAULT_ON, EXCLUDED, FORCED_CHOICE, NO_OPTION, PRESETS, REGIMES
from sim.model.regions import REGION_CODES
from sim.model.rules import consent
from sim.model.rules.consent import ACCEPT, INDIFFERENT, NO_CHOICE, OBJECT, OPTED_IN, OPTED_OUT

# Expected enrolment of an eligible member by regime and recorded choice (MODEL.md, consent.py table).
ENROLLED = {
    EXCLUDED: {NO_CHOICE: False, OPTED_OUT: False, OPTED_IN: False},
    DEFAULT_ON: {NO_CHOICE: True, OPTED_OUT: False, OPTED_IN: True},
    AFFIRMATIVE: {NO_CHOICE: False, OPTED_OUT: False, OPTED_IN: True},
    FORCED_CHOICE: {NO_CHOICE: False, OPTED_OUT: False, OPTED_IN: True},
    NO_OPTION: {NO_CHOICE: True, OPTED_OUT: True, OPTED_IN: True},
}


def test_regime_codes_are_the_five_regimes_in_order():
    assert REGIMES == ("excluded", "default_on", "affirmative", "forced_choice", "no_option")
    assert (EXCLUDED, DEFAULT_ON, AFFIRMATIVE, FORCED_CHOICE, NO_OPTION) == (0, 1, 2, 3, 4)


@pytest.mark.parametrize(("regime", "choice"), list(itertools.product(ENROLLED, (NO_CHOICE, OPTED_OUT, OPTED_IN))))
def test_is_enrolled_truth_table(regime, choice):
    assert bool(consent.is_enrolled(regime, choice, True, PRESETS)) is ENROLLED[regime][choice]
    assert bool(consent.is_enrolled(regime, choice, False, PRESETS)) is False  # minors: never


def test_is_enrolled_on_arrays():
    regimes = np.array([r for r in ENROLLED for _ in range(3)], np.int8)
    choices = np.array([NO_CHOICE, OPTED_OUT, OPTED_IN] * len(ENROLLED), np.int8)
    expected = np.array([ENROLLED[r][c] for r, c in zip(regimes, choices, strict=True)])
    np.testing.assert_array_equal(consent.is_enrolled(regimes, choices, np.ones(regimes.size, bool), PRESETS), expected)
    np.testing.assert_array_equal(consent.is_enrolled(regimes, choices, np.zeros(regimes.size, bool), PRESETS), False)


def test_an_earlier_objection_carries_over_when_a_region_switches_from_excluded_to_default_on():
    choice = np.array([OPTED_OUT, NO_CHOICE, OPTED_IN], np.int8)
    before = consent.is_enrolled(EXCLUDED, choice, True, PRESETS)
    after = consent.is_enrolled(DEFAULT_ON, choice, True, PRESETS)
    np.testing.assert_array_equal(before, [False, False, False])
    np.testing.assert_array_equal(after, [False, True, True])


def test_has_route_to_act_only_where_a_member_can_change_their_status():
    assert [bool(consent.has_route_to_act(r, PRESETS)) for r in range(5)] == [False, True, True, True, False]


def test_desired_choice():
    pref = np.array([OBJECT, OBJECT, ACCEPT, ACCEPT, INDIFFERENT, INDIFFERENT])
    enrolled = np.array([True, False, True, False, True, False])
    np.testing.assert_array_equal(
        consent.desired_choice(pref, enrolled), [OPTED_OUT, NO_CHOICE, NO_CHOICE, OPTED_IN, NO_CHOICE, NO_CHOICE]
    )


ANSWER = PromptAnswerConfig(
    accepter_logit=2.6, indifferent_logit=0.0, objector_logit=-4.0, concern_logit_per_unit=2.0,
    preset_yes_shift=0.7, preset_no_shift=2.6,
)  # fmt: skip


def test_prompt_answer_follows_the_accept_probability():
    u = np.array([0.1, 0.9, 0.1, 0.9])
    p = np.array([0.5, 0.5, 0.95, 0.95])
    np.testing.assert_array_equal(consent.prompt_answer(u, p), [OPTED_IN, OPTED_OUT, OPTED_IN, OPTED_IN])


def test_prompt_accept_probability_is_the_logistic_of_lean_plus_framing():
    # at concern 0.5 the lean is the preference's log-odds; the framing adds its shift
    for pref, lean in ((ACCEPT, 2.6), (INDIFFERENT, 0.0), (OBJECT, -4.0)):
        for framing, shift in (("neutral", 0.0), ("preset_yes", 0.7), ("preset_no", -2.6)):
            got = consent.prompt_accept_probability(pref, 0.5, framing, ANSWER)
            assert got == pytest.approx(1 / (1 + np.exp(-(lean + shift))))
    # more concern, less yes, within a preference
    p = consent.prompt_accept_probability(np.full(3, INDIFFERENT), np.array([0.1, 0.5, 0.9]), "neutral", ANSWER)
    assert p[0] > p[1] > p[2]


def test_framing_orders_the_answers_preset_no_below_neutral_below_preset_yes():
    pref = np.array([OBJECT, INDIFFERENT, ACCEPT])
    concern = np.array([0.8, 0.5, 0.2])
    no, neutral, yes = (
        consent.prompt_accept_probability(pref, concern, f, ANSWER) for f in ("preset_no", "neutral", "preset_yes")
    )
    assert np.all(no < neutral) and np.all(neutral < yes)


@pytest.mark.parametrize("accept", [0.0, 0.3, 0.8, 1.0])
def test_members_accept_a_prompt_at_their_accept_probability(accept):
    n = 100_000
    u = np.random.default_rng(1).random(n)
    share = (consent.prompt_answer(u, np.full(n, accept)) == OPTED_IN).mean()
    assert abs(share - accept) <= 5 * np.sqrt(accept * (1 - accept) / n) + 1e-12


def test_the_regime_sets_the_prompt_framing():
    assert [PRESETS.framing[r] for r in (DEFAULT_ON, AFFIRMATIVE, FORCED_CHOICE)] == [
        "preset_yes",
        "preset_no",
        "neutral",
    ]


def test_intent_probability():
    desired = np.array([OPTED_OUT, OPTED_OUT, OPTED_IN, NO_CHOICE])
    concern = np.array([0.6, 0.6, 0.9, 0.9])
    believes = np.array([False, True, False, False])
    motive = np.array([0.5, 0.5, 0.5, 0.5])
    p = consent.intent_probability(desired, concern, believes, motive, 1.0, 0.05)
    np.testing.assert_allclose(p, [0.6, 0.3, 0.05, 0.0])
    # the scale is capped: a probability
    assert consent.intent_probability(OPTED_OUT, 0.9, False, 0.0, 5.0, 0.05) == 1.0


def test_intent_fades_with_the_configured_half_life():
    q = consent.intent_fade_probability(30.0)
    assert (1 - q) ** 30 == pytest.approx(0.5)


def test_in_the_model_an_objection_made_in_the_uk_in_2024_still_holds_after_enrolment_in_2025():
    """UK: default-on on 2024-09-18 and 19, excluded until 2025-09-18, training from 2025-11-03."""
    from sim.model.engine import ConsentModel

    # saturated media, eager objectors and a one-step toggle, so that UK members opt out in the two days
    config = make_config(
        "policy=prominent_toggle",
        "awareness.media.base_per_day.default=1",
        "consent.object_intent_scale=10",
        "friction.try_prob=1",
        "end=2025-11-10",
    )
    model = ConsentModel(config)
    uk = REGION_CODES.index("UK")
    s = model.pop.slices[uk]
    while model.dates[model.day] < np.datetime64("2024-09-20"):
        model.step()
    opted_out = np.flatnonzero(model.state.choice[s] == OPTED_OUT) + s.start
    assert opted_out.size >= 10
    ingested_then = model.ingested_of(opted_out)
    while model.running:
        model.step()
    assert model.policy.regime[-1, uk] == DEFAULT_ON and model.policy.training[-1, uk]
    assert np.all(model.state.choice[opted_out] == OPTED_OUT)
    assert not consent.is_enrolled(
        model.policy.regime[-1, uk], model.state.choice[opted_out], True, model.designs
    ).any()
    # none of their data went in after they objected, although UK pulls resumed on 2025-11-03
    np.testing.assert_array_equal(model.ingested_of(opted_out), ingested_then)
    others = np.setdiff1d(np.flatnonzero(model.pop.eligible[s]) + s.start, opted_out)
    assert model.state.profile_ingested[others].mean() > 0.5  # while the rest of the UK was ingested
