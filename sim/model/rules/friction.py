"""Settings-discovery friction (docs/ODD.md §7.6).

A route is a list of steps, each with a difficulty in log-odds: a member of median skill (0.5)
passes a step of difficulty d with probability 1 / (1 + exp(d)); skill shifts that by
`skill_weight * (skill - 0.5)` log-odds. An attempt fails at the first failed step. A member with
intent who visits tries with probability try_prob * frustration_factor ** failures (present bias,
and frustration after each failure); after a failure they give up with probability give_up_prob.
Every function here works on scalars and on arrays alike.
"""

from __future__ import annotations

import numpy as np


def step_success_probability(skill, difficulty, skill_weight):
    """Chance of passing one step of a route."""
    return 1.0 / (1.0 + np.exp(difficulty - skill_weight * (np.asarray(skill, np.float64) - 0.5)))


def route_completion_probability(skill, difficulties, skill_weight):
    """Chance that one attempt passes every step (the product of the step probabilities)."""
    p = np.ones_like(np.asarray(skill, np.float64))
    for d in difficulties:
        p = p * step_success_probability(skill, d, skill_weight)
    return p


def try_probability(try_prob, frustration_factor, failures):
    """Chance that a visiting member with intent tries the route today."""
    return try_prob * np.power(frustration_factor, np.asarray(failures, np.float64))


def attempt_succeeds(step_uniforms, step_probabilities):
    """Whether an attempt passes every step; arrays of shape (steps, members) or (steps,)."""
    return np.all(np.asarray(step_uniforms) < np.asarray(step_probabilities), axis=0)


def first_route_passed(passed, order):
    """The route a member completes when several are open: among the routes whose steps they
    passed, the first in their own (random) order of trying; -1 if none. `passed` and `order` are
    arrays of shape (routes, members) or (routes,); a route not open must have passed=False."""
    key = np.where(np.asarray(passed), np.asarray(order, np.float64), np.inf)
    return np.where(np.isfinite(key.min(axis=0)), np.argmin(key, axis=0), -1)
