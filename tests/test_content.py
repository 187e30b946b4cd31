"""Content and attention (MODEL.md section 7): post types, the face-share update and the feed."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cached

from sim.model.metrics import INDEX
from sim.model.random_streams import Streams
from sim.model.rules import content


@pytest.mark.parametrize("f", [0.0, 0.15, 0.5, 0.8, 1.0])
def test_a_neutral_feed_leaves_the_face_share_where_it_is(f):
    for motive in (0.0, 0.3, 1.0):
        assert content.face_share_update(f, 1.0, motive, 0.05, 0.0, 1.0) == pytest.approx(f, abs=1e-15)


def test_a_boosted_feed_raises_the_face_share_and_a_penalising_feed_lowers_it():
    f = np.array([0.05, 0.15, 0.5, 0.79])
    up = content.face_share_update(f, 1.38, 0.5, 0.05, 0.0, 1.0)
    down = content.face_share_update(f, 0.7, 0.5, 0.05, 0.0, 1.0)
    assert np.all(up > f)
    assert np.all(down < f)
    # a stronger boost, a stronger motive or a faster rate moves it further
    assert np.all(content.face_share_update(f, 3.0, 0.5, 0.05, 0.0, 1.0) > up)
    assert np.all(content.face_share_update(f, 1.38, 1.0, 0.05, 0.0, 1.0) > up)
    assert np.all(content.face_share_update(f, 1.38, 0.5, 0.2, 0.0, 1.0) > up)


def test_the_update_is_the_partial_replicator_step():
    f, b, m, rate = 0.2, 1.5, 0.4, 0.1
    rewarded = f * b / (f * b + 1 - f)
    assert content.face_share_update(f, b, m, rate, 0.0, 1.0) == pytest.approx(f + rate * m * (rewarded - f))


def test_a_member_without_visibility_motive_does_not_adapt():
    assert content.face_share_update(0.15, 5.0, 0.0, 0.5, 0.0, 1.0) == pytest.approx(0.15)


def test_the_face_share_stays_within_its_bounds():
    f = np.array([0.0, 0.1, 0.5, 0.8])
    assert np.all(content.face_share_update(f, 100.0, 1.0, 1.0, 0.05, 0.6) <= 0.6)
    assert np.all(content.face_share_update(f, 0.0, 1.0, 1.0, 0.05, 0.6) >= 0.05)
    # repeated boosted posts converge to the upper bound, never beyond
    g = np.full(3, 0.15)
    for _ in range(2000):
        g = content.face_share_update(g, 2.0, 1.0, 0.1, 0.0, 0.8)
    np.testing.assert_allclose(g, 0.8)


@pytest.mark.parametrize(("face", "other"), [(0.15, 0.47), (0.5, 0.2), (0.0, 1.0), (1.0, 0.5)])
def test_post_type_frequencies_match_the_shares(face, other):
    n = 200_000
    u = Streams(1).uniform("post_type", np.arange(n), 0)
    kind = content.post_type(u, face, other)
    expected = {
        content.FACE_IMAGE: face,
        content.OTHER_IMAGE: (1 - face) * other,
        content.TEXT_ONLY: (1 - face) * (1 - other),
    }
    for k, p in expected.items():
        assert abs((kind == k).mean() - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12


def test_post_type_works_per_member():
    u = np.array([0.1, 0.1, 0.6, 0.99])
    kind = content.post_type(u, np.array([0.2, 0.05, 0.2, 0.2]), 0.5)
    np.testing.assert_array_equal(
        kind, [content.FACE_IMAGE, content.OTHER_IMAGE, content.OTHER_IMAGE, content.TEXT_ONLY]
    )


def test_daily_probability_of_a_poisson_rate():
    np.testing.assert_allclose(content.daily_probability([0.0, 0.1, 1.0]), 1 - np.exp(-np.array([0, 0.1, 1.0])))


# ----------------------------------------------------------------------------- in the model
def test_with_a_neutral_feed_the_face_post_share_stays_at_the_initial_share():
    model = run_cached("feed.face_boost=1.0")
    initial = model.config.feed.initial_face_share
    share = model.records[:, :, INDEX["face_post_share"]]
    np.testing.assert_allclose(share, initial, atol=2e-6)
    np.testing.assert_allclose(model.state.face_share, initial, atol=1e-7)


def test_a_boosted_feed_raises_the_face_post_share_over_time(actual_model):
    strong = run_cached("feed.face_boost=3.0")
    initial = actual_model.config.feed.initial_face_share
    assert actual_model.config.feed.face_boost > 1
    k = INDEX["face_post_share"]
    default = actual_model.records[:, -1, k]
    assert default[0] == pytest.approx(initial, abs=1e-3)
    assert default[-1] > initial + 0.005
    assert np.all(np.diff(default) >= -1e-6)  # a boosted feed only pushes up
    assert strong.records[-1, -1, k] > default[-1]


def test_face_shares_in_the_model_respect_the_configured_bounds():
    model = run_cached("feed.face_boost=50", "feed.adaptation_rate=1", "feed.max_face_share=0.6")
    assert model.state.face_share.max() <= 0.6 + 1e-7
    assert model.state.face_share.max() == pytest.approx(0.6, abs=1e-6)  # the bound binds
    assert np.all(model.records[:, :, INDEX["face_post_share"]] <= 0.6 + 1e-6)
