"""Property-based tests (hypothesis): invariants that must hold for any seed and small population."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import compose_raw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.model.config import validate_config
from sim.model.metrics import COUNT_METRICS, INDEX, METRIC_NAMES
from sim.model.population import allocate_agents
from sim.model.random_streams import Streams
from sim.model.regimes import PRESETS
from sim.model.regions import REGIONS
from sim.model.rules import consent, content
from sim.run.folder import run_model

# few examples, no example database (nothing written into the repository), no deadline
FEW = settings(max_examples=8, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SHARES = [INDEX[m] for m in METRIC_NAMES if m.endswith("_share")] + [INDEX["training_active"]]
LEDGER = [
    INDEX[m]
    for m in (
        "dataset_profiles",
        "dataset_text_tokens",
        "dataset_face_images",
        "dataset_other_images",
        "dataset_face_images_from_objectors",
    )
]
POLICIES = ["linkedin_actual", "affirmative_everywhere", "forced_choice_everywhere", "prominent_toggle"]


def _small_config(seed, agents, floor, policy, members=930e6, end="2024-11-15"):
    raw = compose_raw(f"policy={policy}", small=False)
    raw.update(seed=seed, end=end, progress=False)
    raw["population"].update(agents=agents, min_agents_per_region=floor, members=members)
    return validate_config(raw)


small_runs = st.tuples(
    st.integers(0, 2**32 - 1),
    st.integers(200, 2000),
    st.integers(1, 20),
    st.sampled_from(POLICIES),
)


@FEW
@given(small_runs)
def test_any_small_run_keeps_shares_in_bounds_and_the_ledger_growing(params):
    seed, agents, floor, policy = params
    model = run_model(_small_config(seed, agents, floor, policy), progress=False)
    r = model.records
    assert np.isfinite(r).all()
    shares = r[:, :, SHARES]
    assert shares.min() >= 0.0 and shares.max() <= 1.0
    assert r[:, :, [INDEX[m] for m in COUNT_METRICS]].min() >= 0
    assert np.all(np.diff(r[:, :, LEDGER], axis=0) >= 0)
    total = r[:, :, INDEX["opted_out_share"]] + r[:, :, INDEX["opted_in_share"]] + r[:, :, INDEX["undecided_share"]]
    eligible = r[:, :, INDEX["eligible_members"]] > 0
    np.testing.assert_allclose(total[eligible], 1.0, atol=1e-12)


@FEW
@given(
    st.integers(0, 2**32 - 1),
    st.integers(100, 3000),
    st.integers(1, 10),
    st.floats(1e3, 2e9),
    st.sampled_from([0.0, 0.01, 0.3]),
)
def test_weighted_eligible_plus_minors_equals_the_configured_members(seed, agents, floor, members, minor_share):
    raw = compose_raw(small=False)
    raw.update(seed=seed)
    raw["population"].update(agents=agents, min_agents_per_region=floor, members=members)
    raw["population"]["minor_share"] = {"default": minor_share}
    from sim.model.population import sample_population

    config = validate_config(raw)
    pop = sample_population(config.population, 0.0, Streams(seed))
    sizes = np.array([r.members_millions for r in REGIONS])
    expected = members * sizes / sizes.sum()
    for r, s in enumerate(pop.slices):
        w = pop.weight[s]
        assert w[pop.eligible[s]].sum() + w[~pop.eligible[s]].sum() == pytest.approx(expected[r], rel=1e-9)
        assert s.stop - s.start >= floor
    assert pop.n == agents


@FEW
@given(
    st.lists(st.floats(0.01, 1000.0), min_size=1, max_size=12),
    st.integers(1, 50),
    st.integers(0, 500),
)
def test_allocation_sums_to_the_request_with_the_floor_and_near_proportions(members, floor, extra):
    members = np.array(members)
    agents = floor * members.size + extra
    counts = allocate_agents(members, agents, floor)
    assert counts.sum() == agents
    assert counts.min() >= floor
    free = counts > floor
    if free.any():
        exact = (agents - floor * (~free).sum()) * members[free] / members[free].sum()
        assert np.all(np.abs(counts[free] - exact) < 1 + 1e-9)


@settings(max_examples=30, deadline=None, database=None)
@given(
    st.integers(0, 2**63 - 1),
    st.text(min_size=1, max_size=20),
    st.lists(st.integers(0, 10**9), min_size=1, max_size=50),
    st.integers(-1, 29_999),
)
def test_keyed_uniforms_are_deterministic_and_in_the_open_unit_interval(seed, name, agents, day):
    agents = np.array(agents, dtype=np.int64)
    a = Streams(seed).uniform(name, agents, day)
    b = Streams(seed).uniform(name, agents, day)
    np.testing.assert_array_equal(a, b)
    assert np.all((a > 0) & (a < 1))
    # each agent's draw is its own: independent of the others drawn with it
    np.testing.assert_array_equal(Streams(seed).uniform(name, agents[:1], day), a[:1])
    # the same agent gets the same draw, different agents different draws
    assert np.unique(a).size == np.unique(agents).size


@settings(max_examples=50, deadline=None, database=None)
@given(
    st.floats(0, 1),
    st.floats(0, 20),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 0.5),
    st.floats(0.5, 1),
)
def test_face_share_update_stays_in_bounds_and_a_neutral_feed_is_a_fixed_point(f, boost, motive, rate, lo, hi):
    f = min(max(f, lo), hi)
    g = content.face_share_update(f, boost, motive, rate, lo, hi)
    assert lo <= g <= hi
    assert content.face_share_update(f, 1.0, motive, rate, lo, hi) == pytest.approx(f, abs=1e-12)
    if boost > 1 and motive > 0 and rate > 0 and 0 < f < hi:
        assert g >= f


@settings(max_examples=30, deadline=None, database=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2), st.booleans()), min_size=1, max_size=40))
def test_minors_are_never_enrolled_in_any_regime(rows):
    regime, choice, eligible = (np.array(x) for x in zip(*rows, strict=True))
    enrolled = consent.is_enrolled(regime, choice.astype(np.int8), eligible, PRESETS)
    assert not np.any(enrolled & ~eligible)
