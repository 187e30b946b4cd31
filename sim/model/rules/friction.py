"""Settings-discovery friction and motivated completion (docs/ODD.md §7.6).

A route is a list of steps, each with a difficulty in log-odds: a member of median skill (0.5)
passes a step of difficulty d with probability 1 / (1 + exp(d)); skill shifts that by
`skill_weight * (skill - 0.5)` log-odds. An attempt fails at the first failed step. The step
difficulties are what an inattentive member meets (ANCHORS 3's banners: a hidden layer divides
completion by 3 to 9): a consent prompt is answered that way.

A member who has set out to refuse (or to opt in) is not inattentive: they search for the hidden
steps (those harder than `hidden_above`), and find each easier by a search offset Delta
(`motivated_search_offset`, log-odds): d_h -> d_h - Delta. A harder hidden step stays harder for a
searcher too, so a design that hides the switch deeper still costs completions. What Delta means
is told by the success it gives an attempt on the real four-step toggle for the median member,

    prod_visible sigma(-d_v) x prod_hidden sigma(-(d_h - Delta)),

which `search_offset` inverts (for the priors' reasons and the reports: e.g. Delta = 2.07 gives 30%
at the shipped difficulties). Printed steps (the guidance mechanism) give a guided offset of their own.

How long a member keeps at it: a member with intent who visits tries with probability `try_prob`
(present bias: not every visit is the day to do it); after a failed attempt they give up for good
with probability 1 / `attempts_per_intent`, so an intent that lasts makes `attempts_per_intent`
attempts on average (a geometric number), and one that fades first makes fewer.
Every function here works on scalars and on arrays alike, except `search_offset` (scalars).
"""

from __future__ import annotations

import numpy as np

MAX_SEARCH_OFFSET = 30.0  # log-odds: beyond this every hidden step is passed (sigma(-30) ~ 1e-13)


def step_success_probability(skill, difficulty, skill_weight):
    """Chance of passing one step of a route."""
    return 1.0 / (1.0 + np.exp(difficulty - skill_weight * (np.asarray(skill, np.float64) - 0.5)))


def route_completion_probability(skill, difficulties, skill_weight):
    """Chance that one attempt passes every step (the product of the step probabilities)."""
    p = np.ones_like(np.asarray(skill, np.float64))
    for d in difficulties:
        p = p * step_success_probability(skill, d, skill_weight)
    return p


def searched_difficulty(difficulty, offset, hidden_above):
    """A step's difficulty for a member searching with `offset`: hidden steps (above `hidden_above`)
    lose `offset` log-odds; visible ones are as they are (there is nothing to search for)."""
    d = np.asarray(difficulty, np.float64)
    return np.where(d > hidden_above, d - offset, d)


def search_offset(success: float, difficulties, hidden_above: float) -> float:
    """The offset Delta >= 0 at which the median member completes a route of these step
    difficulties with probability `success` (the equation in the module docstring). 0 where even
    an inattentive attempt succeeds that often; MAX_SEARCH_OFFSET where the visible steps alone
    succeed less often (the route's visible steps cap what searching can do)."""
    d = np.asarray(difficulties, np.float64)

    def completion(offset: float) -> float:
        return float(np.prod(1.0 / (1.0 + np.exp(searched_difficulty(d, offset, hidden_above)))))

    if completion(0.0) >= success:
        return 0.0
    if completion(MAX_SEARCH_OFFSET) <= success:
        return MAX_SEARCH_OFFSET
    low, high = 0.0, MAX_SEARCH_OFFSET
    for _ in range(60):  # bisection: completion rises with the offset; 60 halvings reach 1e-17
        mid = 0.5 * (low + high)
        low, high = (mid, high) if completion(mid) < success else (low, mid)
    return 0.5 * (low + high)


def give_up_probability(attempts_per_intent):
    """Chance of giving up for good after a failed attempt: 1 / expected attempts per intent."""
    return 1.0 / np.asarray(attempts_per_intent, np.float64)


def attempt_succeeds(step_uniforms, step_probabilities):
    """Whether an attempt passes every step; arrays of shape (steps, members) or (steps,)."""
    return np.all(np.asarray(step_uniforms) < np.asarray(step_probabilities), axis=0)


def first_route_passed(passed, order):
    """The route a member completes when several are open: among the routes whose steps they
    passed, the first in their own (random) order of trying; -1 if none. `passed` and `order` are
    arrays of shape (routes, members) or (routes,); a route not open must have passed=False."""
    key = np.where(np.asarray(passed), np.asarray(order, np.float64), np.inf)
    return np.where(np.isfinite(key.min(axis=0)), np.argmin(key, axis=0), -1)
