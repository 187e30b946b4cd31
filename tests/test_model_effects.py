"""Directions of effect between consent designs, reproducibility, common random numbers, and the
Mesa interface."""

from __future__ import annotations

import json

import mesa
import numpy as np
import pandas as pd
import pytest
from conftest import make_config, run_cached

from sim.model.engine import ConsentModel
from sim.model.metrics import INDEX, METRIC_NAMES
from sim.model.regimes import AFFIRMATIVE, EXCLUDED
from sim.model.regions import REGION_CODES
from sim.model.rules import friction, membership
from sim.run.folder import execute, run_model


def _at_horizon(model, metric, region=-1):
    return model.records[-1, region, INDEX[metric]]


# ----------------------------------------------------------------------- directions of effect
def test_default_on_keeps_more_enrolled_than_forced_choice_and_forced_choice_more_than_affirmative():
    default_on = _at_horizon(run_cached(), "enrolled_share")
    forced = _at_horizon(run_cached("policy=forced_choice_everywhere"), "enrolled_share")
    affirmative = _at_horizon(run_cached("policy=affirmative_everywhere"), "enrolled_share")
    assert default_on > forced > affirmative
    assert default_on - affirmative > 0.2  # "a default moves the outcome by tens of points"


def test_a_prominent_toggle_gives_more_opt_outs_than_the_real_settings_path():
    """A member acting on intent searches the settings path's hidden steps (motivated completion,
    docs/ODD.md §7.6) and keeps at it, so the real path converts much of what the one visible step of
    the prominent toggle does; the toggle in the notice still converts more, with fewer failed
    attempts, in about the ratio of the two routes' failure chances for the median member."""
    actual, prominent = run_cached(), run_cached("policy=prominent_toggle")
    cfg = make_config().friction
    searched = friction.searched_difficulty(
        [st.difficulty for st in cfg.routes["settings_toggle"].steps], cfg.motivated_search_offset, cfg.hidden_above
    )
    fail_path = 1 - friction.route_completion_probability(0.5, searched, cfg.skill_weight)
    fail_prominent = 1 - friction.route_completion_probability(
        0.5, [st.difficulty for st in cfg.routes["prominent_toggle"].steps], cfg.skill_weight
    )
    assert fail_prominent < fail_path
    assert _at_horizon(actual, "opted_out_share") > 0
    assert _at_horizon(prominent, "opted_out_share") > _at_horizon(actual, "opted_out_share")
    ratio = _at_horizon(prominent, "failed_attempts") / _at_horizon(actual, "failed_attempts")
    assert ratio < 1.5 * fail_prominent / fail_path  # fewer failures, about as the routes' odds say


def test_no_option_everywhere_has_no_opt_outs_and_no_opt_ins():
    r = run_cached("policy=no_option_everywhere").records
    assert np.all(r[:, :, INDEX["opted_out_share"]] == 0)
    assert np.all(r[:, :, INDEX["opted_in_share"]] == 0)
    assert np.all(r[:, :, INDEX["failed_attempts"]] == 0)
    assert _at_horizon(run_cached("policy=no_option_everywhere"), "dataset_text_tokens") > 0


def test_default_on_records_opt_outs_only_and_affirmative_consent_records_opt_ins():
    actual = run_cached().records
    assert np.all(actual[:, :, INDEX["opted_in_share"]] == 0)
    affirmative = run_cached("policy=affirmative_everywhere")
    assert _at_horizon(affirmative, "opted_in_share") > 0
    # under opt-in the enrolled are exactly those who opted in; in an excluded phase nobody is
    regime = affirmative.policy.regime
    enrolled = affirmative.records[:, :-1, INDEX["enrolled_share"]]
    opted_in = affirmative.records[:, :-1, INDEX["opted_in_share"]]
    np.testing.assert_allclose(enrolled[regime == AFFIRMATIVE], opted_in[regime == AFFIRMATIVE])
    assert np.all(enrolled[regime == EXCLUDED] == 0)


def test_affirmative_consent_shrinks_the_dataset_and_the_consent_gap():
    actual, affirmative = run_cached(), run_cached("policy=affirmative_everywhere")
    assert _at_horizon(affirmative, "dataset_text_tokens") < _at_horizon(actual, "dataset_text_tokens")
    assert _at_horizon(affirmative, "consent_gap_share") < _at_horizon(actual, "consent_gap_share")


def test_a_low_salience_default_is_changed_by_a_few_percent_a_year():
    """MODEL.md pattern (ANCHORS 2): one buried setting, on by default, never announced, a year: a
    few percent at most change it. The scenario is the calibration's `low_salience_year`
    (conf/calibration/targets.yaml), run with the shipped model. The shipped US timeline is not
    low-salience (heavy coverage with printed steps in September 2024, then an email), so its opt-outs
    are no measure of this pattern."""
    from sim.analysis.calibration import evaluate_many, load_targets, shipped_raw

    targets, _, nuisance = load_targets()
    (target,) = [t for t in targets if t.id == "low_salience_year"]
    values = {p["name"]: 0.0 for p in nuisance}  # the health-record scenarios' parameter: unused here
    (out,) = evaluate_many([(shipped_raw(), 0, values)], [target], 20_000, nuisance)
    assert 0.001 < out[target.id] < 0.05


# ----------------------------------------------------------------------- reproducibility
SHORT = ("end=2025-01-31",)


def test_same_config_and_seed_give_identical_series():
    config = make_config(*SHORT, "seed=3")
    a, b = run_model(config, progress=False), run_model(config, progress=False)
    assert np.array_equal(a.records, b.records)
    np.testing.assert_array_equal(a.state.choice, b.state.choice)


def test_a_different_seed_gives_different_results():
    a = run_model(make_config(*SHORT, "seed=3"), progress=False)
    b = run_model(make_config(*SHORT, "seed=4"), progress=False)
    assert not np.array_equal(a.records, b.records)


def test_run_folders_of_the_same_config_and_seed_are_byte_identical(tmp_path, capsys):
    config = make_config(*SHORT, "seed=11")
    execute(config, tmp_path / "a")
    execute(config, tmp_path / "b")
    capsys.readouterr()
    for name in ("series.parquet", "summary.json", "config.yaml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    provenance = json.loads((tmp_path / "a" / "provenance.json").read_text())
    assert provenance["seed"] == 11 and provenance["agents"] == config.population.agents
    # the written series is the run's records
    series = pd.read_parquet(tmp_path / "a" / "series.parquet")
    model = run_model(config, progress=False)
    np.testing.assert_array_equal(series.value.to_numpy(), model.records.reshape(-1))
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["regions"]["ALL"]["enrolled_share"] == model.records[-1, -1, INDEX["enrolled_share"]]
    assert not list(tmp_path.rglob(".*.tmp-*"))  # no temporary file left behind


# ----------------------------------------------------------------------- common random numbers
def _first_differing_day(a, b):
    same = np.array([np.array_equal(a.records[t], b.records[t]) for t in range(a.n_days)])
    return int(np.argmin(same)) if not same.all() else None


def test_policies_share_random_numbers_until_they_differ():
    """linkedin_actual and eu_affirmative are bitwise equal until 2025-09-18, the first day they differ."""
    actual, eu = run_cached(), run_cached("policy=eu_affirmative")
    switch = int(np.flatnonzero(actual.dates == np.datetime64("2025-09-18"))[0])
    assert np.array_equal(actual.records[:switch], eu.records[:switch])
    assert _first_differing_day(actual, eu) == switch
    eu_col = REGION_CODES.index("EU_EEA")
    assert not np.array_equal(actual.records[switch, eu_col], eu.records[switch, eu_col])


def test_without_cross_region_spread_non_eu_regions_are_identical_under_an_eu_only_change():
    isolated = ("awareness.word_of_mouth.strength=0", "population.graph.same_region_share=1")
    actual = run_cached(*isolated)
    eu = run_cached(*isolated, "policy=eu_affirmative")
    eu_col = REGION_CODES.index("EU_EEA")
    others = [r for r in range(len(REGION_CODES)) if r != eu_col]
    assert np.array_equal(actual.records[:, others], eu.records[:, others])
    assert not np.array_equal(actual.records[:, eu_col], eu.records[:, eu_col])
    # the EU's own members differ in their choices, the rest do not
    s = actual.pop.slices[eu_col]
    assert not np.array_equal(actual.state.choice[s], eu.state.choice[s])
    rest = np.ones(actual.pop.n, bool)
    rest[s] = False
    np.testing.assert_array_equal(actual.state.choice[rest], eu.state.choice[rest])


# ----------------------------------------------------------------------- Mesa
def test_the_model_is_a_mesa_model_with_one_collected_row_per_step(actual_model):
    assert isinstance(actual_model, mesa.Model)
    df = actual_model.datacollector.get_model_vars_dataframe()
    assert len(df) == actual_model.n_days == actual_model.day
    assert set(METRIC_NAMES) <= set(df.columns)
    np.testing.assert_array_equal(df["enrolled_share"].to_numpy(), actual_model.records[:, -1, INDEX["enrolled_share"]])
    assert actual_model.running is False


def test_stepping_by_hand_matches_run_model():
    config = make_config("end=2024-10-15")
    model = ConsentModel(config)
    assert model.running
    for _ in range(config.horizon_days):
        model.step()
    assert not model.running
    assert model.steps == config.horizon_days  # Mesa counts the steps
    assert np.array_equal(model.records, run_model(config, progress=False).records)


@pytest.mark.parametrize("n_days", [1, 2])
def test_a_horizon_of_a_day_or_two_runs(n_days):
    end = f"2024-09-0{n_days}"
    model = run_model(make_config(f"end={end}"), progress=False)
    assert model.records.shape[0] == n_days
    assert np.isfinite(model.records).all()


def test_policies_share_the_population_and_the_graph():
    a, b = run_cached(), run_cached("policy=forced_choice_everywhere")
    for name in ("region", "visit_prob", "concern", "preference", "skill", "poster", "poster_post_prob"):
        np.testing.assert_array_equal(getattr(a.pop, name), getattr(b.pop, name), err_msg=name)
    # with membership on, `eligible` is state (closing an account is a reaction to the policy): the
    # population shares the set-up draws that decide it, so the same members at the start, the same
    # join and coming-of-age days, and the same closing days but for the members who closed by choice
    for name in ("join_day", "adult_day"):
        np.testing.assert_array_equal(getattr(a.state, name), getattr(b.state, name), err_msg=name)
    at_start = [membership.is_eligible(0, m.state.join_day, m.state.adult_day, m.state.closed_day) for m in (a, b)]
    np.testing.assert_array_equal(*at_start)
    chose = np.zeros(a.pop.n, bool)
    for m in (a, b):
        closer = m.mechanism("close_account")
        if closer is not None and closer.closed:
            chose[np.concatenate(closer.closed)] = True
    np.testing.assert_array_equal(a.state.closed_day[~chose], b.state.closed_day[~chose])
    np.testing.assert_array_equal(a.graph.indptr, b.graph.indptr)
    np.testing.assert_array_equal(a.graph.indices, b.graph.indices)


# ----------------------------------------------------------------------- phase switches


def test_a_regime_switch_withdraws_unanswered_consent_requests():
    """Under affirmative_everywhere the UK's consent request of 2024-09-18 belongs to a phase that
    ends on 2024-09-20 (training suspended): nobody answers it while the UK is excluded."""
    model = run_cached("policy=affirmative_everywhere", "end=2025-09-17")
    uk = REGION_CODES.index("UK")
    day = {d: int(np.flatnonzero(model.dates == np.datetime64(d))[0]) for d in ("2024-09-20", "2025-09-17")}
    # the opt-ins recorded (a cumulative count): the share would move with joiners and closures
    opted_in = model.records[:, uk, INDEX["opt_ins_recorded"]]
    assert opted_in[day["2024-09-20"]] > 0  # some answered in the two days the request stood
    assert opted_in[day["2025-09-17"]] == opted_in[day["2024-09-20"]]
    assert np.all(model.records[day["2024-09-20"] + 1 : day["2025-09-17"] + 1, uk, INDEX["new_opt_ins"]] == 0)


def test_a_submitted_objection_form_is_not_submitted_again_while_it_waits():
    config = make_config(
        "end=2025-03-31", "policy.substitutions=[{regions:[all],route:{settings_toggle:objection_form}}]"
    )
    model = ConsentModel(config)
    wait = config.friction.routes["objection_form"].wait_days
    submissions = []
    while model.running:
        day = model.day
        model.step()
        submissions += [done for done, *_ in model.pending_choices.get(day + wait, [])]  # only today's
    submitted = np.concatenate(submissions)
    assert submitted.size > 0
    assert np.unique(submitted).size == submitted.size  # nobody submits twice


def _us_opt_outs_around_the_story() -> tuple[float, float, float]:
    """US opt-outs in the two weeks before the story of 2024-09-18, the two weeks from it, and two
    weeks six weeks on, in the shipped model."""
    model = run_cached()
    us, daily = REGION_CODES.index("US"), model.records[:, :, INDEX["new_opt_outs"]]
    day = int(np.flatnonzero(model.dates == np.datetime64("2024-09-18"))[0])
    return daily[day - 14 : day, us].sum(), daily[day : day + 14, us].sum(), daily[day + 42 : day + 56, us].sum()


def test_the_shipped_model_gives_a_spike_of_us_opt_outs_after_the_2024_09_18_story_that_decays():
    """Issue 26: with every mechanism on (the shipped model), the US opt-outs come as a spike after
    the story of 2024-09-18 that decays (ANCHORS 9's shape), not as a trickle."""
    before, first, later = _us_opt_outs_around_the_story()
    assert first > 10 * max(before, 1.0) and first > 0
    assert later < 0.5 * first


# ANCHORS 9: My Health Record's flow fell from about 112,000 a week over its first eight weeks (900,000)
# to about 30,000-40,000 a week over the next five to seven (1.1M in October): a quarter to a third of
# the early average, and less of its first weeks' ("a very significant spike in the early days").
# The fit has no target for the decay's rate; the defaults of 2026-12-04 (the emulated posterior's
# most probable set) leave 26% six weeks on, so this fails, and says so strictly.
@pytest.mark.xfail(
    strict=True,
    reason="the fitted defaults' US flow six weeks after the story is 26% of its "
    "first two weeks', above ANCHORS 9's quarter: no calibration target pins the decay's rate yet",
)
def test_the_story_spike_decays_to_under_a_quarter_within_six_weeks():
    _, first, later = _us_opt_outs_around_the_story()
    assert later < 0.25 * first
