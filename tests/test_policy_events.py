"""A policy file built on another adds events to the inherited timeline (`add_events`, merged by
date), and a substitution may start on a date (`substitutions[].date`): sim/model/policy_schema.py,
sim/model/policy.py, docs/POLICIES.md."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.model.config import ConfigError
from sim.run.folder import run_model, series_frame
from tests.conftest import make_config

TINY = ("population.agents=2000", "population.min_agents_per_region=100", "end=2024-10-20")
DATE = "2024-10-01"

US_PROMPT = f"""defaults:
  - linkedin_actual
  - _self_
name: us_forced_choice_from_october
description: the real timeline, and a blocking prompt in the US from 1 Oct 2024
add_events:
  - date: "{DATE}"
    regions: [US]
    regime: forced_choice
    notice: [in_app]
    label: a blocking prompt in the US
"""

CONFLICT = """defaults:
  - linkedin_actual
  - _self_
name: uk_conflict
add_events:
  - date: "2024-09-18"
    regions: [UK]
    regime: affirmative
"""

DATED_SUBSTITUTION = f"""defaults:
  - linkedin_actual
  - _self_
name: us_affirmative_from_october
substitutions:
  - regions: [US]
    regime: {{default_on: affirmative}}
    date: "{DATE}"
"""


@pytest.fixture(scope="module")
def user_conf(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user_conf")
    (folder / "policy").mkdir()
    for name, text in [("us_prompt", US_PROMPT), ("uk_conflict", CONFLICT), ("us_dated", DATED_SUBSTITUTION)]:
        (folder / "policy" / f"{name}.yaml").write_text(text)
    return f"hydra.searchpath=[file://{folder}]"


def _series(config) -> pd.DataFrame:
    return series_frame(run_model(config, progress=False))


def _key(event) -> tuple:
    return event.model_dump(mode="json")


def test_added_event_keeps_every_inherited_event(user_conf):
    base = make_config(*TINY).policy
    added = make_config(*TINY, user_conf, "policy=us_prompt").policy
    assert added.add_events == []  # merged into events when the policy is built
    assert len(added.events) == len(base.events) + 1
    inherited = [_key(e) for e in base.events]
    assert [k for k in map(_key, added.events) if k in inherited] == inherited  # all of them, in order
    new = [e for e in added.events if _key(e) not in inherited]
    assert len(new) == 1 and str(new[0].date) == DATE and new[0].regime == "forced_choice"
    assert [e.date for e in added.events] == sorted(e.date for e in added.events)  # merged by date


def test_added_event_changes_nothing_before_its_date(user_conf):
    base = _series(make_config(*TINY))
    added = _series(make_config(*TINY, user_conf, "policy=us_prompt"))
    before = pd.Timestamp(DATE)
    pd.testing.assert_frame_equal(base[base.date < before].reset_index(drop=True),
                                  added[added.date < before].reset_index(drop=True), check_exact=True)  # fmt: skip
    after = lambda s: s[(s.date >= before) & (s.region == "US") & (s.metric == "enrolled_share")].value.to_numpy()  # noqa: E731
    assert (after(added) < after(base)).any()  # forced choice enrols only those who answer yes


def test_an_added_event_that_contradicts_the_timeline_is_refused(user_conf):
    with pytest.raises(ConfigError) as err:
        make_config(*TINY, user_conf, "policy=uk_conflict")
    text = str(err.value)
    assert "policy.add_events.0" in text and "policy.events.0 (inherited)" in text
    assert "regime in UK on 2024-09-18" in text and "'default_on'" in text and "'affirmative'" in text


def test_a_dated_substitution_applies_from_its_date(user_conf):
    config = make_config(*TINY, user_conf, "policy=us_dated")
    from sim.model.policy import region_phases

    us = region_phases(config.policy)["US"]
    assert [(str(p.start), p.regime) for p in us if p.start is not None][:2] == [
        ("2024-09-18", "default_on"),
        (DATE, "affirmative"),
    ]
    base, dated = _series(make_config(*TINY)), _series(config)
    before = pd.Timestamp(DATE)
    pd.testing.assert_frame_equal(base[base.date < before].reset_index(drop=True),
                                  dated[dated.date < before].reset_index(drop=True), check_exact=True)  # fmt: skip
    last = lambda s: s[(s.date == s.date.max()) & (s.region == "US") & (s.metric == "enrolled_share")].value.iloc[0]  # noqa: E731
    assert last(dated) < last(base)


def test_a_substitution_without_a_date_is_unchanged():
    eu = make_config(*TINY, "policy=eu_affirmative").policy
    assert all(s.date is None for s in eu.substitutions)
