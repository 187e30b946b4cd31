"""Awareness (MODEL.md section 7): the hazard formula, media attention, word of mouth, and the
model's awareness curves against their analytic expectations."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import make_config, run_cached

from sim.model.metrics import INDEX
from sim.model.regions import REGION_CODES
from sim.model.rules import awareness
from sim.run.compose import EVERY_MECHANISM_OFF

# No policy events (so no notices, prompts, routes or media shocks), word of mouth off, notices
# unread: only the constant media hazard makes members aware.
MEDIA_ONLY = (  # the core's awareness rule alone: no notices, no word of mouth, no mechanism (fixed members)
    *EVERY_MECHANISM_OFF,
    "policy.events=[]",
    "awareness.notices.email_read_prob=0",
    "awareness.notices.in_app_seen_prob=0",
    "awareness.word_of_mouth.strength=0",
    "awareness.media.reach=1",
    "end=2025-02-28",
)


# ----------------------------------------------------------------------------- pure functions
def test_daily_exposure_probability_is_the_product_of_the_three_channels():
    p = awareness.daily_exposure_probability(0.1, 0.5, 0.2, 0.3, 2, 4)
    assert p == pytest.approx(1 - (1 - 0.05) * (1 - 0.2) * (1 - 0.3 * 0.5))


def test_daily_exposure_probability_single_channels():
    assert awareness.daily_exposure_probability(0.0, 1.0, 0.0, 0.0, 0, 0) == 0.0
    assert awareness.daily_exposure_probability(0.3, 1.0, 0.0, 0.0, 0, 5) == pytest.approx(0.3)
    assert awareness.daily_exposure_probability(0.3, 0.5, 0.0, 0.0, 0, 5) == pytest.approx(0.15)
    assert awareness.daily_exposure_probability(0.0, 1.0, 0.4, 0.0, 0, 5) == pytest.approx(0.4)
    # every contact telling: the word-of-mouth strength itself
    assert awareness.daily_exposure_probability(0.0, 1.0, 0.0, 0.25, 5, 5) == pytest.approx(0.25)


def test_daily_exposure_probability_on_arrays_and_members_without_contacts():
    telling = np.array([0, 1, 2, 0])
    contacts = np.array([0, 2, 2, 3])
    p = awareness.daily_exposure_probability(0.0, 1.0, 0.0, 0.5, telling, contacts)
    np.testing.assert_allclose(p, [0.0, 0.25, 0.5, 0.0])


def test_hazard_is_minus_log_of_the_survival_and_adds_up_over_days():
    p = np.array([0.0, 0.01, 0.5, 0.9])
    np.testing.assert_allclose(awareness.hazard(p), -np.log(1 - p))
    # ten days at p give the hazard of one day at 1 - (1 - p)**10
    assert 10 * awareness.hazard(0.03) == pytest.approx(awareness.hazard(1 - 0.97**10))
    assert np.isfinite(awareness.hazard(1.0))


def _media(**changes):
    return make_config(*(f"awareness.media.{k}={v}" for k, v in changes.items())).awareness.media


def test_media_attention_is_the_base_without_events():
    media = _media()
    att = awareness.media_attention(media, dt.date(2024, 9, 1), 30, [])
    assert att.shape == (30, len(REGION_CODES))
    np.testing.assert_allclose(att, media.base_per_day["default"])


def test_media_shock_decays_exponentially_from_its_day():
    media = _media(decay_days=10)
    base, high = media.base_per_day["default"], media.shock_per_day["high"]
    start = dt.date(2024, 9, 1)
    att = awareness.media_attention(media, start, 60, [(dt.date(2024, 9, 11), "UK", "high")])
    uk, us = REGION_CODES.index("UK"), REGION_CODES.index("US")
    days = np.arange(60)
    expected = base + np.where(days >= 10, high * np.exp(-(days - 10) / 10.0), 0.0)
    np.testing.assert_allclose(att[:, uk], expected, rtol=1e-12)
    np.testing.assert_allclose(att[:, us], base)  # other regions untouched
    # after one decay time the shock is down to 1/e of its size
    assert (att[20, uk] - base) / (att[10, uk] - base) == pytest.approx(np.exp(-1))


def test_media_shocks_add_up_levels_differ_and_attention_is_capped_at_one():
    media = _media()
    start = dt.date(2024, 9, 1)
    hk = REGION_CODES.index("HK")
    one = awareness.media_attention(media, start, 5, [(start, "HK", "moderate")])
    two = awareness.media_attention(media, start, 5, [(start, "HK", "moderate"), (start, "HK", "moderate")])
    high = awareness.media_attention(media, start, 5, [(start, "HK", "high")])
    base = media.base_per_day["default"]
    np.testing.assert_allclose(two[:, hk] - base, 2 * (one[:, hk] - base))
    assert high[0, hk] > one[0, hk]
    capped = awareness.media_attention(_media(**{"shock_per_day.high": 1.0}), start, 5, [(start, "HK", "high")] * 3)
    assert capped.max() == 1.0


def test_extra_media_events_of_the_config_add_shocks():
    media = make_config('awareness.media.extra_events=[{date:"2024-09-03",regions:[CA],level:high}]').awareness.media
    att = awareness.media_attention(media, dt.date(2024, 9, 1), 10, [])
    ca = REGION_CODES.index("CA")
    assert att[2, ca] == pytest.approx(media.base_per_day["default"] + media.shock_per_day["high"])
    assert att[1, ca] == pytest.approx(media.base_per_day["default"])


def test_cumulative_media_hazard_sums_daily_hazards():
    att = np.array([[0.1, 0.0], [0.2, 0.5], [0.0, 0.5]])
    cum = awareness.cumulative_media_hazard(att, 0.5)
    np.testing.assert_allclose(cum, np.cumsum(-np.log(1 - 0.5 * att), axis=0))


def _csr(n, edges):
    """A symmetric CSR graph from undirected edges (repeats allowed)."""
    rows = [a for a, b in edges] + [b for a, b in edges]
    cols = [b for a, b in edges] + [a for a, b in edges]
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, np.array(cols)[order].astype(np.int32)


def _brute_force_told(indptr, indices, sharers):
    sharer_set = set(int(s) for s in sharers)
    out = {}
    for i in range(len(indptr) - 1):
        k = sum(1 for j in indices[indptr[i] : indptr[i + 1]] if int(j) in sharer_set)
        if k:
            out[i] = k
    return out


@pytest.mark.parametrize("seed", range(5))
def test_contacts_told_matches_a_brute_force_count(seed):
    rng = np.random.default_rng(seed)
    n = 12
    edges = [tuple(int(x) for x in rng.choice(n, 2, replace=False)) for _ in range(20)]
    edges += [edges[0]]  # a repeated tie counts twice
    indptr, indices = _csr(n, edges)
    sharers = np.sort(rng.choice(n, 4, replace=False))
    told, telling = awareness.contacts_told(indptr, indices, sharers)
    assert np.all(np.diff(told) > 0)
    assert dict(zip(told.tolist(), telling.tolist(), strict=True)) == _brute_force_told(indptr, indices, sharers)


def test_contacts_told_with_no_sharers_or_isolated_sharers():
    indptr, indices = _csr(4, [(0, 1)])
    told, telling = awareness.contacts_told(indptr, indices, np.array([], np.int64))
    assert told.size == telling.size == 0
    told, telling = awareness.contacts_told(indptr, indices, np.array([3]))
    assert told.size == telling.size == 0


def test_contacts_told_counts_each_sharing_contact_once():
    indptr, indices = _csr(3, [(0, 1), (0, 2)])
    told, telling = awareness.contacts_told(indptr, indices, np.array([1, 1, 2]))
    assert dict(zip(told.tolist(), telling.tolist(), strict=True)) == {0: 2}
    assert np.all(telling <= np.diff(indptr)[told])


# ----------------------------------------------------------------------------- in the model
def _eligible_counts(model):
    return np.array([np.count_nonzero(model.pop.eligible[s]) for s in model.pop.slices])


def _sd_of_whole(model, p):
    """Sampling s.d. of a whole-membership share p: a member-weighted mean of regional shares."""
    n_eligible = _eligible_counts(model)
    w = model.pop.weight_by_region * n_eligible
    share_w = w / w.sum()
    return np.sqrt(p * (1 - p) * np.sum(share_w**2 / n_eligible))


@pytest.mark.parametrize("base", [0.002, 0.01])
def test_media_only_awareness_follows_one_minus_survival_at_a_constant_hazard(base):
    model = run_cached(*MEDIA_ONLY, f"awareness.media.base_per_day.default={base}")
    t = np.arange(model.n_days)
    expected = 1 - (1 - base) ** (t + 1)  # day index 0 is the first day of exposure
    n_eligible = _eligible_counts(model)
    for r, code in enumerate(REGION_CODES):
        got = model.records[:, r, INDEX["aware_share"]]
        sd = np.sqrt(expected * (1 - expected) / n_eligible[r])
        assert np.all(np.abs(got - expected) <= 5 * sd + 1e-9), code
    # the whole membership, a weighted mean of regions
    sd_all = _sd_of_whole(model, expected)
    got_all = model.records[:, -1, INDEX["aware_share"]]
    assert np.all(np.abs(got_all - expected) <= 5 * sd_all + 1e-9)
    assert got_all[-1] > 0.3  # the check is not vacuous


def test_media_only_awareness_respects_reach_and_a_regional_base():
    model = run_cached(
        *MEDIA_ONLY,
        "awareness.media.base_per_day.default=0.004",
        "+awareness.media.base_per_day.EU_EEA=0.02",
        "awareness.media.reach=0.5",
    )
    t = model.n_days - 1
    n_eligible = _eligible_counts(model)
    for code, base in (("EU_EEA", 0.02), ("US", 0.004)):
        r = REGION_CODES.index(code)
        expected = 1 - (1 - 0.5 * base) ** (t + 1)
        sd = np.sqrt(expected * (1 - expected) / n_eligible[r])
        assert abs(model.records[t, r, INDEX["aware_share"]] - expected) < 5 * sd, code


def test_an_email_notice_makes_its_read_share_aware_on_its_day():
    model = run_cached(
        # the core's notice rule alone: joiners, closures and other mechanisms' channels would move the share
        *EVERY_MECHANISM_OFF,
        "policy.events=[{date:'2024-09-11',regions:[all],notice:[email]}]",
        "awareness.media.base_per_day.default=0",
        "awareness.word_of_mouth.strength=0",
        "awareness.notices.email_read_prob=0.39",
        "end=2024-09-20",
    )
    aware = model.records[:, -1, INDEX["aware_share"]]
    assert np.all(aware[:10] == 0)
    assert abs(aware[10] - 0.39) < 5 * _sd_of_whole(model, 0.39)
    assert np.all(aware[10:] == aware[10])  # no other channel


def test_an_in_app_notice_is_seen_at_the_next_visit():
    q = 0.4
    model = run_cached(
        "policy.events=[{date:'2024-09-11',regions:[all],notice:[in_app]}]",
        "awareness.media.base_per_day.default=0",
        "awareness.word_of_mouth.strength=0",
        f"awareness.notices.in_app_seen_prob={q}",
        "end=2024-10-31",
    )
    pop = model.pop
    us = REGION_CODES.index("US")
    s = pop.slices[us]
    v = pop.visit_prob[s][pop.eligible[s]].astype(np.float64)
    got = model.records[:, us, INDEX["aware_share"]]
    assert np.all(got[:10] == 0)
    for d in (0, 6, 29, 50):
        expected = q * np.mean(1 - (1 - v) ** (d + 1))  # seen on a visit on or after the notice day
        sd = np.sqrt(expected * (1 - expected) / v.size)
        assert abs(got[10 + d] - expected) < 5 * sd, d
    assert got[-1] < q  # dormant members have not visited yet


def test_word_of_mouth_spreads_awareness_beyond_media():
    quiet = ("awareness.media.base_per_day.default=0.0005", "end=2025-03-31")
    off = run_cached(*quiet, "awareness.word_of_mouth.strength=0")
    on = run_cached(*quiet, "awareness.word_of_mouth.strength=1", "awareness.word_of_mouth.share_prob=1")
    k = INDEX["aware_share"]
    assert on.records[-1, -1, k] > off.records[-1, -1, k]
    # before anyone acted (the first default-on day, 2024-09-18) word of mouth has nobody to pass on
    assert np.array_equal(on.records[:17, :, k], off.records[:17, :, k])
