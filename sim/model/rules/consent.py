"""Consent status, intent and prompt answers (docs/ODD.md §7.4, §7.5).

Consent status is one recorded choice per member (none, opted out, opted in); whether the member
is enrolled (data usable for training) follows from the region's regime (`sim.model.regimes`,
its `enrolment` property), so a regime switch needs no bookkeeping and an earlier objection
carries over. Regimes are passed as codes (indices into `sim.model.regimes.REGIMES`).

Every function here works on scalars and on arrays alike.
"""

from __future__ import annotations

import numpy as np

from sim.model.regimes import RegimeTable

# choice codes (int8 state)
NO_CHOICE, OPTED_OUT, OPTED_IN = 0, 1, 2
# preference codes (int8 attribute)
INDIFFERENT, OBJECT, ACCEPT = 0, 1, 2
# channels through which a choice is recorded (int8 state `choice_channel`; a route names its own)
CHANNELS = ("prompt", "settings", "form", "one_click")


# The regime tables are read with `take`: numpy indexes a small table by an int8 array (the regime
# codes) about 3x slower than `take` does.


def is_enrolled(regime, choice, eligible, table: RegimeTable):
    """Whether a member's data may be used under the regime, given their recorded choice."""
    by_default = table.enrols_unless_opted_out.take(regime) & (choice != OPTED_OUT)
    by_choice = table.enrols_if_opted_in.take(regime) & (choice == OPTED_IN)
    return eligible & (by_default | by_choice | table.enrols_everyone.take(regime))


def has_route_to_act(regime, table: RegimeTable):
    """Regimes in which a member can change their own status through a route."""
    return table.route_offered.take(regime)


def asks_every_visit(regime, table: RegimeTable):
    """Regimes whose consent request comes back at every visit until answered."""
    return table.asks_every_visit.take(regime)


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
    # in float64 whatever the attributes' storage (float32): a parameter may come as a scalar or per member
    concern, visibility_motive = np.asarray(concern, np.float64), np.asarray(visibility_motive, np.float64)
    object_p = np.clip(object_scale * concern, 0.0, 1.0)
    object_p = np.where(believes_reach_cost, object_p * (1.0 - visibility_motive), object_p)
    return np.where(desired == OPTED_OUT, object_p, np.where(desired == OPTED_IN, accept_prob, 0.0))


def intent_fade_probability(half_life_days):
    """Daily chance that an intent lapses, for a given half-life."""
    return 1.0 - 0.5 ** (1.0 / half_life_days)


def prompt_accept_probability(preference, concern, framing, cfg):
    """Chance that a member answers a consent prompt "yes" (docs/ODD.md §7.5).

    The member's own lean, in log-odds: their preference's (`cfg.accepter_logit`,
    `indifferent_logit`, `objector_logit`) plus `concern_logit_per_unit` x (0.5 - concern), so
    within a preference the more concerned lean to "no". The prompt's framing adds its shift:
    a preset "yes" pulls up by `preset_yes_shift`, a preset "no" down by `preset_no_shift`,
    neutral buttons add nothing. `cfg` is a `PromptAnswerConfig`; `framing` is a framing name
    (or an array of them).
    """
    lean = np.where(
        preference == ACCEPT,
        cfg.accepter_logit,
        np.where(preference == OBJECT, cfg.objector_logit, cfg.indifferent_logit),
    ) + cfg.concern_logit_per_unit * (0.5 - np.asarray(concern, np.float64))
    framing = np.asarray(framing)
    shift = np.where(
        framing == "preset_yes", cfg.preset_yes_shift, np.where(framing == "preset_no", -cfg.preset_no_shift, 0.0)
    )
    return 1.0 / (1.0 + np.exp(-(lean + shift)))


def prompt_answer(u, accept_probability):
    """Answer to a consent prompt: yes (opted in) with the member's accept probability."""
    return np.where(np.asarray(u) < accept_probability, OPTED_IN, OPTED_OUT).astype(np.int8)
