"""Enrolled against in use (issue 26 item 8): `enrolled_share` is the share set to be used, whether
or not training runs yet; `in_use_share` the share whose data training uses now."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sim.model.metrics import BY_NAME, INDEX
from sim.model.regions import REGION_CODES


def _day(model, date: str) -> int:
    return (dt.date.fromisoformat(date) - model.config.start).days


def test_in_use_is_enrolled_where_training_runs_and_zero_where_it_does_not(actual_model):
    m = actual_model
    enrolled = m.records[:, :-1, INDEX["enrolled_share"]]
    in_use = m.records[:, :-1, INDEX["in_use_share"]]
    np.testing.assert_array_equal(in_use, np.where(m.policy.training, enrolled, 0.0))
    assert (m.records[:, -1, INDEX["in_use_share"]] <= m.records[:, -1, INDEX["enrolled_share"]] + 1e-12).all()
    assert m.policy.training.any() and (~m.policy.training).any()  # both cases occur in the run


def test_the_eu_is_enrolled_but_not_in_use_between_the_announcement_and_training(actual_model):
    m, eu = actual_model, REGION_CODES.index("EU_EEA")
    window = slice(_day(m, "2025-09-18"), _day(m, "2025-11-02") + 1)
    assert (m.records[window, eu, INDEX["in_use_share"]] == 0).all()
    enrolled = m.records[window, eu, INDEX["enrolled_share"]]
    assert (enrolled > 0.5).all()  # set to be used: most of the EU, less those who refused before
    assert m.records[_day(m, "2025-11-03"), eu, INDEX["in_use_share"]] == pytest.approx(
        m.records[_day(m, "2025-11-03"), eu, INDEX["enrolled_share"]]
    )  # in use from training's first day: as enrolled


def test_the_registry_says_which_is_which():
    assert "set to be used" in BY_NAME["enrolled_share"].description
    assert "whether or not training runs" in BY_NAME["enrolled_share"].description
    assert "in use now" in BY_NAME["in_use_share"].description


def test_the_figures_draw_in_use_solid_beside_enrolled_dashed(tmp_path):
    from sim.reports import figures, plot

    assert figures.LINE_STYLES["enrolled_share"]["ls"] == "--" and "ls" not in figures.LINE_STYLES["in_use_share"]
    assert figures.LINE_STYLES["enrolled_share"]["color"] == figures.LINE_STYLES["in_use_share"]["color"]
    assert "set to be used" in figures.CONSENT_LINES["enrolled_share"]
    dates = pd.date_range("2025-09-01", periods=4)
    rows = [
        {"date": d, "region": r, "metric": k, "median": v, "q10": v, "q90": v, "replicates": 1, "policy": "p"}
        for d in dates
        for r in (*REGION_CODES, "ALL")
        for k, v in (("enrolled_share", 0.9), ("in_use_share", 0.0 if d < dates[2] else 0.9))
    ]
    paths = plot.enrolled_and_in_use(pd.DataFrame(rows), ["policy"], {}, tmp_path)
    assert [p.name for p in paths] == ["enrolled_and_in_use.png", "enrolled_and_in_use.svg"]
    svg = paths[1].read_text()
    assert "in use for training now" in svg and "set to be used" in svg
