"""Consent status, intent and prompt answers (docs/ODD.md §7.4, §7.5).

Consent status is one recorded choice per member (none, opted out, opted in); whether the member
is enrolled (data usable for training) follows from the region's regime (`sim.model.regimes`,
its `enrolment` property), so a regime switch needs no bookkeeping and an earlier objection
carries over. Regimes are passed as codes (indices into `sim.model.regimes.REGIMES`).

Every function here works on scalars and on arrays alike.
"""

from __future__ import annotations

import numpy as np

from sim.model import regimes

# choice codes (int8 state)
NO_CHOICE, OPTED_OUT, OPTED_IN = 0, 1, 2
# preference codes (int8 attribute)
INDIFFERENT, OBJECT, ACCEPT = 0, 1, 2


def is_enrolled(regime, choice, eligible):
    """Whether a member's data may be used under the regime, given their recorded choice."""
    by_default = regimes.ENROLS_UNLESS_OPTED_OUT[regime] & (choice != OPTED_OUT)
    by_choice = regimes.ENROLS_IF_OPTED_IN[regime] & (choice == OPTED_IN)
    return eligible & (by_default | by_choice | regimes.ENROLS_EVERYONE[regime])


def has_route_to_act(regime):
    """Regimes in which a member can change their own status through a route."""
    return regimes.ROUTE_OFFERED[regime]


def asks_every_visit(regime):
    """Regimes whose consent request comes back at every visit until answered."""
    return regimes.ASKS_EVERY_VISIT[regime]


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
    """Chance that an indifferent member accepts a prompt, by the prompt's framing.

    A prompt preset to "yes" is kept with probability `default_acquiescence`, one preset to "no"
    is kept (declined) with that probability, and neutral buttons are accepted with
    `neutral_acquiescence` (the framing is a property of the regime, `sim.model.regimes`).
    """
    framing = regimes.FRAMING[regime]
    return np.where(
        framing == "preset_yes",
        default_acquiescence,
        np.where(framing == "preset_no", 1.0 - default_acquiescence, neutral_acquiescence),
    )


def prompt_answer(preference, u, accept_probability):
    """Answer to a consent prompt: objectors decline, accepters accept, the indifferent accept
    with the prompt design's probability."""
    accepts = (preference == ACCEPT) | ((preference == INDIFFERENT) & (u < accept_probability))
    return np.where(accepts, OPTED_IN, OPTED_OUT).astype(np.int8)
