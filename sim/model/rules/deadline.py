"""Deadlines: urgency that rises as a deadline nears and ends after it (docs/ODD.md §7.18).

A policy event may announce a deadline (an objection window's close, training's start). With d
days left (d = 0 on the deadline's day, the last day acting still counts), the urgency is

    u(d) = 1 / (1 + d / tau)    for d >= 0,    u = 0 after the deadline or with none ahead,

the hyperbolic form of delay discounting (Mazur 1987, V = A / (1 + k D)): the deadline's loss,
seen d days ahead, weighs 1 / (1 + d / tau) of what it weighs on the day. It rises slowly while
the deadline is far and steeply in its last days (tau = 14: a third four weeks out, a half two
weeks out, two thirds one week out, 1 on the day), which is where present-biased members who
put off a costly step act (O'Donoghue & Rabin 1999, "Doing it now or later", AER 89:103).

A deadline is a cue in its own right: it needs no fresh news. Each day, a member who has heard of
the data use and whose status differs from what they want sets out to act with the chance

    c(d) = a x u(d)                                  (a = `act_prob`, the chance on the day itself)

whether or not they ever tried before (a "last chance" ends giving up: a retry). Summed over a
window the cue gives a member about a x tau x ln(1 + D / tau) chances in the D days before the
deadline, most of them in its last weeks: the shape of ANCHORS 9, where about half of My Health
Record's 9.9% opted out in the 11 weeks from the final extension to the close. Every function works
on scalars and arrays alike.
"""

from __future__ import annotations

import numpy as np


def urgency(days_left, time_constant_days):
    """u(d) = 1 / (1 + d / tau) for d >= 0 days left; 0 where d < 0 (no deadline ahead)."""
    d = np.asarray(days_left, np.float64)
    return np.where(d >= 0, 1.0 / (1.0 + np.maximum(d, 0.0) / np.asarray(time_constant_days, np.float64)), 0.0)


def cue_probability(act_prob, urgency_now):
    """c = a x u: the day's chance that an aware member who wants a change sets out to act."""
    return np.asarray(act_prob, np.float64) * np.asarray(urgency_now, np.float64)


def expected_cues(act_prob, time_constant_days, window_days):
    """sum over d = 0 .. D - 1 of a x u(d): the expected cues in the last D days before a deadline
    (about a x tau x ln(1 + D / tau) for a long window)."""
    d = np.arange(int(window_days))
    return float(np.sum(cue_probability(act_prob, urgency(d, time_constant_days))))
