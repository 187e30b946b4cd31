"""Consent status, intent and prompt answers (MODEL.md section 7, "Intent").

Consent status is one recorded choice per member (none, opted out, opted in); whether the member
is enrolled (data usable for training) follows from the region's regime, so a regime switch needs
no bookkeeping and an earlier objection carries over:

| regime        | enrolled                         |
|---------------|----------------------------------|
| excluded      | nobody                           |
| default_on    | every eligible member not opted out |
| affirmative   | eligible members who opted in    |
| forced_choice | eligible members who opted in (the rest are asked at their next visit) |
| no_option     | every eligible member            |

Every function here works on scalars and on arrays alike.
"""

from __future__ import annotations

import numpy as np

from sim.model.policy import AFFIRMATIVE, DEFAULT_ON, FORCED_CHOICE, NO_OPTION

# choice codes (int8 state)
NO_CHOICE, OPTED_OUT, OPTED_IN = 0, 1, 2
# preference codes (int8 attribute)
INDIFFERENT, OBJECT, ACCEPT = 0, 1, 2


def is_enrolled(regime, choice, eligible):
    """Whether a member's data may be used under the regime, given their recorded choice."""
    regime = np.asarray(regime)
    by_default = (regime == DEFAULT_ON) & (choice != OPTED_OUT)
    by_choice = ((regime == AFFIRMATIVE) | (regime == FORCED_CHOICE)) & (choice == OPTED_IN)
    return eligible & (by_default | by_choice | (regime == NO_OPTION))


def has_route_to_act(regime):
    """Regimes in which a member can change their own status through a settings route."""
    regime = np.asarray(regime)
    return (regime == DEFAULT_ON) | (regime == AFFIRMATIVE) | (regime == FORCED_CHOICE)


def desired_choice(preference, enrolled):
    """The choice a member wants to record now: opt out, opt in, or nothing (status already fits)."""
    wants_out = (preference == OBJECT) & enrolled
    wants_in = (preference == ACCEPT) & ~np.asarray(enrolled, bool)
    return np.where(wants_out, OPTED_OUT, np.where(wants_in, OPTED_IN, NO_CHOICE)).astype(np.int8)


def intent_probability(desired, concern, believes_reach_cost, visibility_motive, object_scale, accept_prob):
    """Chance that an exposure turns into an intent to act.

    Objectors act on their concern (scaled); a member who believes opting out costs reach discounts
    it by how much they care about reach. Accepters rarely opt in unprompted.
    """
    object_p = np.clip(object_scale * concern, 0.0, 1.0)
    object_p = np.where(believes_reach_cost, object_p * (1.0 - visibility_motive), object_p)
    return np.where(desired == OPTED_OUT, object_p, np.where(desired == OPTED_IN, accept_prob, 0.0))


def intent_fade_probability(half_life_days):
    """Daily chance that an intent lapses, for a given half-life."""
    return 1.0 - 0.5 ** (1.0 / half_life_days)


def indifferent_accept_probability(regime, default_acquiescence, neutral_acquiescence):
    """Chance that an indifferent member accepts a prompt, by the prompt's design.

    The prompt presents the regime's default as the easy answer: under default-on the indifferent
    keep data use on with probability `default_acquiescence`; under affirmative consent they keep
    it off with that probability; a forced choice has no default (neutral buttons).
    """
    regime = np.asarray(regime)
    return np.where(
        regime == DEFAULT_ON,
        default_acquiescence,
        np.where(regime == AFFIRMATIVE, 1.0 - default_acquiescence, neutral_acquiescence),
    )


def prompt_answer(preference, u, accept_probability):
    """Answer to a consent prompt: objectors decline, accepters accept, the indifferent accept
    with the prompt design's probability."""
    accepts = (preference == ACCEPT) | ((preference == INDIFFERENT) & (u < accept_probability))
    return np.where(accepts, OPTED_IN, OPTED_OUT).astype(np.int8)
