"""Many simulations in one model (sim.model.batch): each gives, bit for bit, what it gives alone."""

import threading

import numpy as np
import pytest

from sim.model import batch
from sim.model.batch import Gatherer, batch_key, batches, run_batch, simulate_many
from sim.model.config import validate_config
from sim.model.engine import ConsentModel
from sim.model.random_streams import BatchStreams, Streams
from sim.run.compose import EVERY_MECHANISM_OFF, EVERY_MECHANISM_ON, compose_raw

BASE = ("population.agents=1500", "progress=false", "end=2025-09-30")

# parameter sets that differ in seed, size, population and every kind of batched parameter
VARIED = (
    (),
    ("seed=7", "population.agents=900", "friction.try_prob=0.3", "salience.intent_gain=3",
     "consent.intent_half_life_days=20", "friction.routes.settings_toggle.steps.1.difficulty=2.5",
     "awareness.media.shock_per_day.high=0.2", "guidance.search_offset=3.0", "return_visits.response_prob=0.9",
     "consent.prompt_answer.accepter_logit=1", "population.object_share.default=0.5", "feed.face_boost=2",
     "awareness.word_of_mouth.strength=0", "guidance.memory_days=5", "reactions.delete_old_posts.kept_share=0.1",
     "concern.sensitivity=30", "membership.age_in_days=100", "awareness.notices.email_read_prob=0.9",
     "training.tokens_per_post=10"),
    ("seed=11", "friction.attempts_per_intent=1.2", "salience.half_life_days=3", "reactions.post_less.post_factor=0.2",
     "feed.initial_face_share=0.3", "friction.skill_weight=0.5", "friction.motivated_search_offset=2.5",
     "friction.hidden_above=-0.6"),
)  # fmt: skip


def _configs(*shared):
    return [validate_config(compose_raw([*BASE, *shared, *v])) for v in VARIED]


def _alone(config) -> np.ndarray:
    model = ConsentModel(config)
    while model.running:
        model.step()
    return model.records


@pytest.mark.parametrize(
    "shared",
    [
        EVERY_MECHANISM_ON,
        ("training.retroactive_removal=true", "policy=prominent_toggle", "policy.one_click_notices=true",
         *EVERY_MECHANISM_ON),
        ("policy=forced_choice_everywhere",),
        EVERY_MECHANISM_OFF,  # the core model (every mechanism now ships on, as in the first case)
    ],
    ids=["every_mechanism", "removal_one_click", "forced_choice", "every_mechanism_off"],
)  # fmt: skip
def test_each_simulation_of_a_batch_gives_exactly_its_series_alone(shared):
    configs = _configs(*shared)
    assert len({batch_key(c) for c in configs}) == 1  # one batch
    together = run_batch(configs)
    for k, config in enumerate(configs):
        alone = _alone(config)
        assert np.array_equal(together[k], alone, equal_nan=True), f"simulation {k} differs from its run alone"
    assert not np.array_equal(together[0], together[1], equal_nan=True)  # they are different simulations


def test_what_a_batch_may_vary_and_what_it_shares():
    one = validate_config(compose_raw([*BASE]))

    def key(*overrides):
        return batch_key(validate_config(compose_raw([*BASE, *overrides])))

    for varied in ("seed=3", "population.agents=700", "friction.try_prob=0.2", "salience.try_gain=2",
                   "awareness.media.reach=0.5", "friction.routes.settings_toggle.steps.2.difficulty=1",
                   "friction.motivated_search_offset=2.5", "friction.attempts_per_intent=5",
                   "friction.hidden_above=0.5", "guidance.search_offset=2.0"):  # fmt: skip
        assert key(varied) == batch_key(one), varied
    # every mechanism ships on, so switching one off is what changes the batch key
    for shared in ("policy=forced_choice_everywhere", "salience.enabled=false", "end=2025-10-31",
                   "awareness.word_of_mouth.window_days=3", "training.ingest_every_days=14"):  # fmt: skip
        assert key(shared) != batch_key(one), shared
    with pytest.raises(ValueError, match="simulate_many"):  # one model cannot hold them
        ConsentModel([one, validate_config(compose_raw([*BASE, "policy=forced_choice_everywhere"]))])


def test_simulate_many_groups_mixed_configs_and_keeps_their_order(monkeypatch):
    """Configs of two policies interleaved: each comes back in its place, equal to its run alone, and
    the runs went as two batches (one per policy)."""
    a = _configs()[:2]
    b = _configs("policy=forced_choice_everywhere")[:2]
    mixed = [a[0], b[0], a[1], b[1]]
    sizes = []
    real = batch.run_batch
    monkeypatch.setattr(batch, "run_batch", lambda cs: sizes.append(len(cs)) or real(cs))
    out = simulate_many(mixed)
    assert sorted(sizes) == [2, 2]
    for config, records in zip(mixed, out, strict=True):
        assert np.array_equal(records, _alone(config), equal_nan=True)


def test_batches_hold_about_the_agents_asked_and_fit_the_memory():
    configs = _configs()[:1] * 10  # 1,500 agents each
    assert [len(b) for b in batches(configs, agents=3_000)] == [2] * 5
    assert [len(b) for b in batches(configs, agents=1)] == [1] * 10  # one at a time
    one_gb = batch.batch_size(configs[0], agents=10**9, available=1e9)
    assert 1 <= one_gb < batch.batch_size(configs[0], agents=10**9, available=8e9)


def test_batch_streams_give_each_simulation_its_own_keyed_draws():
    seeds, sizes = [3, 5, 3], [4, 7, 2]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    together = BatchStreams([Streams(s) for s in seeds], starts)
    agents = np.arange(starts[-1])
    u = together.uniform("intent", agents, 12)
    rows = together.uniforms(["a", "b"], agents, 3)
    for k, seed in enumerate(seeds):
        local = np.arange(sizes[k])
        alone = Streams(seed)
        assert np.array_equal(u[starts[k] : starts[k + 1]], alone.uniform("intent", local, 12))
        assert np.array_equal(rows[:, starts[k] : starts[k + 1]], alone.uniforms(["a", "b"], local, 3))
    assert not np.array_equal(u[: sizes[0]], u[starts[1] : starts[1] + sizes[0]])  # another seed, other numbers


def test_a_gatherer_runs_concurrent_requests_as_one_batch(monkeypatch):
    """Three threads ask for simulations at once: one simulate_many call serves them all, and each
    gets its own records."""
    calls = []
    monkeypatch.setattr(batch, "simulate_many", lambda cs, agents: calls.append(len(cs)) or [c * 10 for c in cs])
    gatherer = Gatherer(3)
    results = {}

    def ask(k):
        results[k] = gatherer.run([k, k + 100])
        gatherer.leave()

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=10)
    assert calls == [6]
    assert results == {k: [k * 10, (k + 100) * 10] for k in range(3)}


def test_the_segment_searches_equal_numpy_searchsorted_on_each_segment():
    from sim.model.search import lower_bound, ranges

    rng = np.random.default_rng(1)
    segments = [np.sort(rng.random(rng.integers(0, 30))) for _ in range(30)]
    values = np.concatenate(segments)
    bounds = np.concatenate([[0], np.cumsum([s.size for s in segments])])
    k = rng.integers(0, 30, 500)
    lo = bounds[k] + (rng.random(500) * (bounds[k + 1] - bounds[k] + 1)).astype(int)
    hi, x = bounds[k + 1], rng.random(500) * 1.1
    expected = [a + np.searchsorted(values[a:b], v, side="left") for a, b, v in zip(lo, hi, x, strict=True)]
    assert lower_bound(values, lo, hi, x).tolist() == [int(e) for e in expected]
    assert lower_bound(np.empty(0), [0], [0], [0.5]).tolist() == [0]
    assert ranges(np.array([2, 5, 9]), np.array([4, 5, 11])).tolist() == [2, 3, 9, 10]


def test_unique_equals_numpy_unique_on_index_arrays():
    from sim.model.search import unique

    rng = np.random.default_rng(2)
    for size in (0, 1, 2, 1000):
        for dtype in (np.int32, np.int64):
            values = rng.integers(0, 300, size).astype(dtype)
            got, expected = unique(values), np.unique(values)
            assert got.dtype == expected.dtype and np.array_equal(got, expected)
            (got, counts), (expected, expected_counts) = unique(values, True), np.unique(values, return_counts=True)
            assert np.array_equal(got, expected) and np.array_equal(counts, expected_counts)


def test_equal_indices_equals_flatnonzero_of_the_comparison():
    from sim.model.search import equal_indices

    rng = np.random.default_rng(3)
    for size in (0, 1, 7, 5000):
        for dtype in (np.int16, np.int32):
            values = rng.integers(0, 20, size).astype(dtype)
            for x in (0, 5, 19, 25):  # 25: never present
                got, expected = equal_indices(values, x), np.flatnonzero(values == x)
                assert got.dtype == np.int64 and np.array_equal(got, expected)
