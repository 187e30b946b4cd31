"""Opting in unasked (docs/ODD.md §7.17): an accepter who has heard of the data use and is not
enrolled sets out to opt in at a yearly rate, then goes through the route like anyone with an intent.

The rate comes from an opt-in record nobody was individually asked about (ANCHORS 10, France's DMP:
a share `s` of the insured had one after `T` years). Read as a constant yearly hazard,

    r = 1 - (1 - s)^(1 / T)                       (the yearly rate from the record)

and, run as a daily coin flip for each aware accepter not enrolled,

    h = 1 - (1 - r)^(1 / 365.25)                  (the daily chance of setting out)

so that the chance of having set out at least once within `y` years of hearing of it is
1 - (1 - h)^(365.25 y) = 1 - (1 - r)^y. Whether setting out ends in an opt-in is the route's
business (visits, tries, the route's steps, giving up: docs/ODD.md §7.6). Every function here works
on scalars and arrays.
"""

from __future__ import annotations

import numpy as np

DAYS_PER_YEAR = 365.25


def yearly_rate_from_record(share, years):
    """The constant yearly hazard r = 1 - (1 - share)^(1 / years) that reaches `share` in `years`."""
    return 1.0 - (1.0 - np.asarray(share, np.float64)) ** (1.0 / np.asarray(years, np.float64))


def daily_probability(rate_per_year):
    """The daily chance h = 1 - (1 - r)^(1 / 365.25) of a yearly chance r."""
    return 1.0 - (1.0 - np.asarray(rate_per_year, np.float64)) ** (1.0 / DAYS_PER_YEAR)


def set_out_within(rate_per_year, days):
    """Chance of setting out at least once within `days` of hearing of it: 1 - (1 - h)^days."""
    return 1.0 - (1.0 - daily_probability(rate_per_year)) ** np.asarray(days, np.float64)
