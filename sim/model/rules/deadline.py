"""Deadlines: urgency that rises as a deadline nears and ends after it (docs/ODD.md §7.18).

A policy event may announce a deadline (an objection window's close, training's start). With d
days left (d = 0 on the deadline's day, the last day acting still counts), the urgency is

    u(d) = 1 / (1 + d / tau)    for d >= 0,    u = 0 after the deadline or with none ahead,

the hyperbolic form of delay discounting (Mazur 1987, V = A / (1 + k D)): the deadline's loss,
seen d days ahead, weighs 1 / (1 + d / tau) of what it weighs on the day. It rises slowly while
the deadline is far and steeply in its last days (tau = 14: a third four weeks out, a half two
weeks out, two thirds one week out, 1 on the day), which is where present-biased members who
put off a costly step act (O'Donoghue & Rabin 1999, "Doing it now or later", AER 89:103). That is
consistent with ANCHORS 9, which gives the shape, not a weekly profile: about half of My Health
Record's 9.9% opted out in the 11 weeks from the final extension (14 Nov 2018) to the close
(31 Jan 2019), the other half in the 4 months before. Urgency raises a daily chance p like
salience does (sim.model.rules.salience): p -> 1 - (1 - p) ** (1 + gain * u), each unit of
urgency `gain` more independent chances; u = 0 leaves p unchanged. Every function works on
scalars and arrays alike.
"""

from __future__ import annotations

import numpy as np

from sim.model.rules.salience import scaled_probability

__all__ = ["scaled_probability", "urgency"]


def urgency(days_left, time_constant_days):
    """u(d) = 1 / (1 + d / tau) for d >= 0 days left; 0 where d < 0 (no deadline ahead)."""
    d = np.asarray(days_left, np.float64)
    return np.where(d >= 0, 1.0 / (1.0 + np.maximum(d, 0.0) / np.asarray(time_constant_days, np.float64)), 0.0)
