"""The sampled, weighted population (MODEL.md sections 2 and 5)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from conftest import compose_raw, make_config

from sim.model.config import for_region, validate_config
from sim.model.population import allocate_agents, sample_population
from sim.model.random_streams import Streams
from sim.model.regions import REGION_CODES
from sim.model.rules.consent import ACCEPT, INDIFFERENT, OBJECT
from sim.run.compose import DATA_DIR

REGIONS_CSV = DATA_DIR / "regions.csv"


def _csv_members_millions() -> dict[str, float]:
    """Region sizes read straight from the data file (independently of sim.model.regions)."""
    with REGIONS_CSV.open(encoding="utf-8") as fh:
        rows = [line for line in fh if line.strip() and not line.startswith("#")]
    return {row["region"]: float(row["members_millions"]) for row in csv.DictReader(rows)}


@pytest.fixture(scope="module")
def config():
    return make_config()


@pytest.fixture(scope="module")
def pop(config):
    return sample_population(config.population, config.feed.reach_cost_belief_share, Streams(config.seed))


def test_regions_are_those_of_regions_csv_in_file_order():
    assert tuple(_csv_members_millions()) == REGION_CODES


def test_weighted_eligible_plus_minors_is_the_configured_membership_per_region(config, pop):
    sizes = _csv_members_millions()
    total = sum(sizes.values())
    for r, code in enumerate(REGION_CODES):
        s = pop.slices[r]
        w = pop.weight[s]
        eligible = w[pop.eligible[s]].sum()
        minors = w[~pop.eligible[s]].sum()
        expected = config.population.members * sizes[code] / total
        assert eligible + minors == pytest.approx(expected, rel=1e-9), code
        assert minors > 0, code  # both groups are there
    assert pop.weight.sum() == pytest.approx(config.population.members, rel=1e-9)


def test_agents_sum_to_the_request_and_every_region_has_its_floor(config, pop):
    counts = np.array([s.stop - s.start for s in pop.slices])
    assert pop.n == counts.sum() == config.population.agents
    assert counts.min() >= config.population.min_agents_per_region


def test_agents_are_sorted_by_region_in_contiguous_slices(pop):
    assert pop.slices[0].start == 0 and pop.slices[-1].stop == pop.n
    for r, s in enumerate(pop.slices):
        assert np.all(pop.region[s] == r)
    assert np.all(np.diff(pop.region) >= 0)
    # posters are a sorted subset, sliced by region too
    assert np.all(np.diff(pop.poster) > 0)
    for r, ps in enumerate(pop.poster_slices):
        assert np.all(pop.region[pop.poster[ps]] == r)


def test_allocation_is_proportional_to_members_with_a_floor():
    members = np.array([500.0, 300.0, 150.0, 40.0, 9.0, 1.0])
    counts = allocate_agents(members, 1000, 50)
    assert counts.sum() == 1000
    assert np.all(counts >= 50)
    assert counts[4] == counts[5] == 50  # the small ones sit on the floor
    free = counts > 50
    exact = (1000 - 50 * (~free).sum()) * members[free] / members[free].sum()
    assert np.all(np.abs(counts[free] - exact) < 1)


def test_allocation_without_a_binding_floor_is_proportional():
    members = np.array([3.0, 2.0, 5.0])
    np.testing.assert_array_equal(allocate_agents(members, 10, 1), [3, 2, 5])
    counts = allocate_agents(members, 101, 1)
    assert counts.sum() == 101
    assert np.all(np.abs(counts - 101 * members / members.sum()) < 1)


def test_allocation_at_exactly_the_floor_total():
    counts = allocate_agents(np.array([100.0, 1.0, 1.0]), 30, 10)
    np.testing.assert_array_equal(counts, [10, 10, 10])


def test_preference_shares_per_region_match_the_config_within_rounding(config, pop):
    cfg = config.population
    for r, code in enumerate(REGION_CODES):
        pref = pop.preference[pop.slices[r]]
        n = pref.size
        assert abs(np.count_nonzero(pref == OBJECT) - for_region(cfg.object_share, code) * n) <= 1, code
        assert abs(np.count_nonzero(pref == ACCEPT) - for_region(cfg.accept_share, code) * n) <= 1, code
        assert np.isin(pref, (INDIFFERENT, OBJECT, ACCEPT)).all()


def test_objectors_are_more_concerned_than_accepters(pop):
    assert pop.concern[pop.preference == OBJECT].mean() > pop.concern[pop.preference == INDIFFERENT].mean()
    assert pop.concern[pop.preference == INDIFFERENT].mean() > pop.concern[pop.preference == ACCEPT].mean()


def test_about_thirty_percent_of_members_are_monthly_active(pop):
    """ANCHORS 6: 28-36% monthly active; the login mix is tuned to about 30%."""
    v = pop.visit_prob.astype(np.float64)
    active = np.average(1 - (1 - v) ** 30, weights=pop.weight)
    assert 0.28 <= active <= 0.34


def test_minor_share_matches_the_config(config, pop):
    minors = np.average(~pop.eligible, weights=pop.weight)
    p = for_region(config.population.minor_share, "US")
    assert abs(minors - p) < 0.005  # about 5 s.d. of a weighted share of 20,000 agents


def test_posting_is_heavy_tailed_and_most_members_never_post(config, pop):
    never = config.population.post_segments["never"].share
    share_posters = pop.poster.size / pop.n
    assert abs(share_posters - (1 - never)) < 5 * np.sqrt(never * (1 - never) / pop.n)
    assert np.all(pop.poster_post_prob > 0) and np.all(pop.poster_post_prob <= 1)
    weekly_or_more = np.mean(pop.poster_rate_per_day >= 1 / 14) * share_posters
    assert 0.005 < weekly_or_more < 0.03  # ANCHORS 6: about 1.1% post weekly


def test_attributes_are_in_range_and_compact(pop):
    for name in ("concern", "skill", "visibility_motive", "visit_prob"):
        x = getattr(pop, name)
        assert x.dtype == np.float32, name
        assert x.min() >= 0 and x.max() <= 1, name
    assert pop.eligible.dtype == bool and pop.has_photo.dtype == bool
    assert pop.region.dtype == np.int8 and pop.preference.dtype == np.int8
    assert pop.tenure_days.min() >= 0


def test_same_seed_same_population_other_seed_other_population(config):
    a = sample_population(config.population, 0.0, Streams(5))
    b = sample_population(config.population, 0.0, Streams(5))
    c = sample_population(config.population, 0.0, Streams(6))
    for name in ("eligible", "visit_prob", "concern", "preference", "skill", "poster"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert not np.array_equal(a.concern, c.concern)


def test_a_config_that_passes_validation_can_sample_its_population():
    raw = compose_raw()
    raw["population"]["concern_segments"]["unconcerned"]["share"] += 5e-7  # shares sum to 1 + 5e-7
    config = validate_config(raw)  # accepted: within the schema's tolerance
    pop = sample_population(config.population, 0.0, Streams(0))
    assert pop.n == config.population.agents


def test_cell_masks_and_poster_slots_agree_with_indexing_by_region(pop):
    cells = np.zeros(len(pop.slices), bool)
    cells[[1, 4]] = True
    assert np.array_equal(pop.in_cells(cells), cells[pop.region])
    assert np.array_equal(pop.in_cells(cells, posters=True), cells[pop.region[pop.poster]])
    members = np.array([0, pop.poster[0], pop.poster[-1], pop.n - 1, *pop.poster[5:9]], np.int64)
    at, is_poster = pop.poster_slots(members)
    assert np.array_equal(is_poster, np.isin(members, pop.poster))
    assert np.array_equal(pop.poster[at[is_poster]], members[is_poster])
