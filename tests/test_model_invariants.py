"""Whole-model invariants: shares, accounting identities, exclusions, and the real timeline's
"done when" checks, on small runs shared through conftest's cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_config, run_cached, wide

from sim.model.engine import ConsentModel
from sim.model.metrics import COUNT_METRICS, INDEX, METRIC_NAMES
from sim.model.regions import ALL, REGION_CODES
from sim.model.rules.consent import NO_CHOICE
from sim.run.compose import EVERY_MECHANISM_OFF

SHARE_METRICS = [m for m in METRIC_NAMES if m.endswith("_share")] + ["training_active"]
DATASET_COUNTS = [
    "dataset_profiles",
    "dataset_text_tokens",
    "dataset_face_images",
    "dataset_other_images",
    "dataset_face_images_from_objectors",
]
POLICIES = [
    "linkedin_actual",
    "affirmative_everywhere",
    "forced_choice_everywhere",
    "no_option_everywhere",
    "prominent_toggle",
    "eu_affirmative",
]


def _policy_run(policy):
    return run_cached() if policy == "linkedin_actual" else run_cached(f"policy={policy}")


def test_the_frame_is_tidy_and_complete(actual_model, actual_frame):
    assert list(actual_frame.columns) == ["date", "region", "metric", "value"]
    n_days = actual_model.n_days
    assert len(actual_frame) == n_days * (len(REGION_CODES) + 1) * len(METRIC_NAMES)
    assert not actual_frame.duplicated(["date", "region", "metric"]).any()
    assert set(actual_frame.region) == {*REGION_CODES, ALL}
    assert set(actual_frame.metric) == set(METRIC_NAMES)
    assert actual_frame.date.min() == pd.Timestamp("2024-09-01")
    assert actual_frame.date.max() == pd.Timestamp("2026-12-31")
    assert actual_frame.value.notna().all()


@pytest.mark.parametrize("policy", POLICIES)
def test_every_share_is_between_zero_and_one(policy):
    records = _policy_run(policy).records
    shares = records[:, :, [INDEX[m] for m in SHARE_METRICS]]
    assert np.isfinite(shares).all()
    assert shares.min() >= 0.0
    assert shares.max() <= 1.0
    counts = records[:, :, [INDEX[m] for m in COUNT_METRICS]]
    assert counts.min() >= 0.0


def test_every_share_and_count_is_non_negative_under_retroactive_removal():
    records = run_cached("training.retroactive_removal=true").records
    shares = records[:, :, [INDEX[m] for m in SHARE_METRICS]]
    counts = records[:, :, [INDEX[m] for m in COUNT_METRICS]]
    assert shares.min() >= 0.0 and shares.max() <= 1.0
    assert counts.min() >= 0.0


@pytest.mark.parametrize("policy", POLICIES[:3])
def test_opted_out_in_and_undecided_add_up_to_all_eligible(policy):
    r = _policy_run(policy).records
    total = r[:, :, INDEX["opted_out_share"]] + r[:, :, INDEX["opted_in_share"]] + r[:, :, INDEX["undecided_share"]]
    np.testing.assert_allclose(total, 1.0, atol=1e-12)


@pytest.mark.parametrize("policy", POLICIES[:3])
def test_consent_gap_is_the_sum_of_its_parts(policy):
    r = _policy_run(policy).records
    parts = (
        r[:, :, INDEX["gap_unaware_share"]]
        + r[:, :, INDEX["gap_intending_share"]]
        + r[:, :, INDEX["gap_gave_up_share"]]
        + r[:, :, INDEX["gap_not_trying_share"]]
    )
    np.testing.assert_allclose(r[:, :, INDEX["consent_gap_share"]], parts, atol=1e-12)
    assert r[:, :, INDEX["gap_gave_up_share"]].min() >= 0 and r[:, :, INDEX["gap_not_trying_share"]].min() >= 0
    # the gap is objectors who are enrolled: never more than the enrolled
    assert np.all(r[:, :, INDEX["consent_gap_share"]] <= r[:, :, INDEX["enrolled_share"]] + 1e-12)


def test_consent_gap_counts_only_enrolled_objectors_in_the_state(actual_model):
    """Recompute the horizon's gap from the agents' state (independently of _record)."""
    m = actual_model
    from sim.model.rules import consent

    regime = m.policy.regime[-1][m.pop.region]
    enrolled = consent.is_enrolled(regime, m.state.choice, m.pop.eligible, m.designs)
    gap = enrolled & (m.pop.preference == consent.OBJECT)
    for r, s in enumerate(m.pop.slices):
        eligible = np.count_nonzero(m.pop.eligible[s])
        assert m.records[-1, r, INDEX["consent_gap_share"]] == pytest.approx(np.count_nonzero(gap[s]) / eligible)
        assert m.records[-1, r, INDEX["enrolled_share"]] == pytest.approx(np.count_nonzero(enrolled[s]) / eligible)
        objectors = np.count_nonzero((m.pop.preference[s] == consent.OBJECT) & m.pop.eligible[s])
        assert m.records[-1, r, INDEX["objector_share"]] == pytest.approx(objectors / eligible)
        assert m.records[-1, r, INDEX["objectors_enrolled_share"]] == pytest.approx(
            np.count_nonzero(gap[s]) / objectors
        )


def test_all_is_the_sum_of_regions_for_counts_and_the_weighted_mean_for_shares(actual_model):
    r = actual_model.records
    for name in COUNT_METRICS:
        k = INDEX[name]
        np.testing.assert_allclose(r[:, -1, k], r[:, :-1, k].sum(axis=1), rtol=1e-12, atol=1e-6, err_msg=name)
    eligible = r[:, :-1, INDEX["eligible_members"]]
    for name in ("aware_share", "enrolled_share", "opted_out_share", "consent_gap_share", "training_active"):
        k = INDEX[name]
        weighted = (r[:, :-1, k] * eligible).sum(axis=1) / eligible.sum(axis=1)
        np.testing.assert_allclose(r[:, -1, k], weighted, rtol=1e-10, err_msg=name)


def test_eligible_members_are_the_weighted_adults_and_constant():
    # the core's rule alone: joiners, members turning 18 and closed accounts would move the eligible count
    m = run_cached(*EVERY_MECHANISM_OFF)
    e = m.records[:, :, INDEX["eligible_members"]]
    assert np.all(e == e[0])
    for r, s in enumerate(m.pop.slices):
        assert e[0, r] == pytest.approx(m.pop.weight_by_region[r] * np.count_nonzero(m.pop.eligible[s]))
    assert e[0, -1] < m.config.population.members  # minors are not eligible


def test_eligible_members_on_the_last_day_are_the_weighted_eligible_of_a_changing_membership(actual_model):
    """The shipped model (membership on): the count moves, and on the horizon it is the weighted
    members who have joined, are adult and have not closed their account."""
    m, last = actual_model, actual_model.n_days - 1
    e = m.records[:, :, INDEX["eligible_members"]]
    assert not np.all(e == e[0])  # joiners, members turning 18 and closures move it
    s = m.state
    now = (s.join_day <= last) & (s.adult_day <= last) & (s.closed_day > last)
    np.testing.assert_array_equal(m.pop.eligible, now)
    for r, sl in enumerate(m.pop.slices):
        assert e[-1, r] == pytest.approx(m.pop.weight_by_region[r] * np.count_nonzero(now[sl]))


@pytest.mark.parametrize("policy", POLICIES)
def test_mainland_china_contributes_nothing_to_the_dataset(policy):
    r = _policy_run(policy).records
    cn = REGION_CODES.index("CN")
    for name in (*DATASET_COUNTS, "enrolled_share", "training_active", "consent_gap_share"):
        assert np.all(r[:, cn, INDEX[name]] == 0), name
    assert r[-1, cn, INDEX["eligible_members"]] > 0


@pytest.mark.parametrize("policy", ["linkedin_actual", "affirmative_everywhere", "forced_choice_everywhere"])
def test_minors_never_get_a_choice_nor_have_data_ingested(policy):
    """The shipped model (membership on): members turn 18 during the horizon and may choose and be
    pulled from then on, so the check is made every day on the members not yet adult that day."""
    config = make_config() if policy == "linkedin_actual" else make_config(f"policy={policy}")
    m = ConsentModel(config)
    s = m.state
    minors_at_start = (s.join_day <= 0) & (s.adult_day > 0)
    assert minors_at_start.sum() > 50
    minor_days = 0
    while m.running:
        t = m.day
        m.step()
        minors = (s.join_day <= t) & (s.adult_day > t)  # members not yet adult on day t
        minor_days += int(minors.sum())
        assert np.all(s.choice[minors] == NO_CHOICE), t
        assert not s.profile_ingested[minors].any(), t
        assert not m.pop.eligible[minors].any(), t
    still_minors = np.flatnonzero((s.join_day < m.n_days) & (s.adult_day >= m.n_days))
    assert np.all(m.ingested_of(still_minors) == 0)
    assert minor_days > 50 * 30  # the check is not vacuous
    # while adults did choose and were ingested: the check is not vacuous
    adults = m.pop.eligible
    assert (s.choice[adults] != NO_CHOICE).any()
    assert s.profile_ingested[adults].any()


def test_everyone_ingested_is_an_eligible_member_of_a_region_that_trained(actual_model):
    m = actual_model
    ingested = m.state.profile_ingested
    trained_regions = np.flatnonzero(m.policy.training.any(axis=0))
    assert np.all(np.isin(m.pop.region[ingested], trained_regions))
    # with membership on a closed account keeps what was ingested: everyone ingested joined and
    # turned 18 within the horizon, and is eligible still or closed the account since
    s, last = m.state, m.n_days - 1
    assert np.all((s.join_day[ingested] <= last) & (s.adult_day[ingested] <= last))
    assert np.all(m.pop.eligible[ingested] | (s.closed_day[ingested] <= last))
    assert (ingested & ~m.pop.eligible).any()  # closed accounts among the ingested: not vacuous


# ------------------------------------------------------------------ the real timeline, done when
def _data(frame, metric="dataset_text_tokens"):
    return wide(frame, metric)


@pytest.mark.parametrize("metric", ["dataset_profiles", "dataset_text_tokens"])
@pytest.mark.parametrize("code", ["EU_EEA", "CH", "CA", "HK"])
def test_gdpr_like_regions_hold_no_data_before_2025_11_03_and_do_after(actual_frame, code, metric):
    d = _data(actual_frame, metric)[code]
    assert (d.loc[:"2025-11-02"] == 0).all()
    assert (d.loc["2025-11-03":] > 0).all()


@pytest.mark.parametrize("metric", ["dataset_profiles", "dataset_text_tokens"])
def test_uk_holds_only_the_two_days_of_2024_before_its_suspension(actual_frame, metric):
    d = _data(actual_frame, metric)["UK"]
    assert (d.loc[:"2024-09-17"] == 0).all()
    assert (d.loc["2024-09-18":"2025-11-02"] > 0).all()
    paused = d.loc["2024-09-20":"2025-11-02"]
    assert (paused == paused.iloc[0]).all()
    if metric == "dataset_text_tokens":
        assert d.loc["2025-11-03"] > paused.iloc[0]  # training resumes with the posts made meanwhile


@pytest.mark.parametrize("metric", ["dataset_profiles", "dataset_text_tokens"])
@pytest.mark.parametrize("code", ["US", "IN", "BR", "ROW"])
def test_early_regions_hold_data_from_2024_09_18_on_and_none_before(actual_frame, code, metric):
    d = _data(actual_frame, metric)[code]
    assert (d.loc[:"2024-09-17"] == 0).all()
    assert (d.loc["2024-09-18":] > 0).all()
    if metric == "dataset_text_tokens":
        assert d.iloc[-1] > d.loc["2024-09-18"]  # later pulls add posts (profiles all go in at once)


def test_training_active_follows_the_policy_table(actual_model):
    m = actual_model
    active = m.records[:, :-1, INDEX["training_active"]]
    np.testing.assert_array_equal(active, m.policy.training.astype(float))


# ------------------------------------------------------------------ the ledger
@pytest.mark.parametrize("policy", POLICIES)
def test_ledger_never_shrinks_without_retroactive_removal(policy):
    m = _policy_run(policy)
    assert m.config.training.retroactive_removal is False
    for name in DATASET_COUNTS:
        d = m.records[:, :, INDEX[name]]
        assert np.all(np.diff(d, axis=0) >= 0), name
    assert np.all(m.records[:, :, INDEX["dataset_removed_text_tokens"]] == 0)


def test_retroactive_removal_removes_objectors_data(actual_model):
    removal = run_cached("training.retroactive_removal=true")
    k_removed = INDEX["dataset_removed_text_tokens"]
    removed = removal.records[:, -1, k_removed]
    assert removed[-1] > 0
    assert np.all(np.diff(removed) >= 0)  # a cumulative metric
    k_share = INDEX["dataset_from_objectors_share"]
    keep = actual_model.records[-1, -1, k_share]
    assert keep > 0
    assert removal.records[-1, -1, k_share] < keep
    assert removal.records[-1, -1, k_share] < 0.1 * keep
    # removal changes the ledger, not behaviour: opt-outs are the same (common random numbers)
    k_out = INDEX["opted_out_share"]
    np.testing.assert_array_equal(removal.records[:, :, k_out], actual_model.records[:, :, k_out])
    # what was removed is what the kept ledger holds beyond the removal ledger
    k_tok = INDEX["dataset_text_tokens"]
    assert removal.records[-1, -1, k_tok] < actual_model.records[-1, -1, k_tok]


def test_objectors_share_of_the_dataset_is_their_ingested_data(actual_model):
    """At the horizon (no removal), the objectors' token share equals their data in the agent state."""
    from sim.model.engine import TEXT
    from sim.model.rules.consent import OPTED_OUT

    m = actual_model
    # with reactions on, leaving is an objection (docs/ODD.md §7.14): data already ingested from a
    # member who closed the account by choice counts as objectors' data, as the opted-out members'
    left = np.zeros(m.pop.n, bool)
    closer = m.mechanism("close_account")
    if closer is not None and closer.closed:
        left[np.concatenate(closer.closed)] = True
    for r, s in enumerate(m.pop.slices):
        total = m.records[-1, r, INDEX["dataset_text_tokens"]]
        if total == 0:
            continue
        objectors = (m.state.choice[s] == OPTED_OUT) | left[s]
        data = m.ingested_of(np.arange(s.start, s.stop))[:, TEXT].astype(np.float64)
        theirs = data[objectors].sum() * m.pop.weight_by_region[r]
        all_ = data.sum() * m.pop.weight_by_region[r]
        assert all_ == pytest.approx(total, rel=1e-5)
        assert m.records[-1, r, INDEX["dataset_from_objectors_share"]] == pytest.approx(
            theirs / total, rel=1e-4, abs=1e-9
        )
