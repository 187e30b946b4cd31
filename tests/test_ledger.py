"""The training-data ledger (MODEL.md section 7, "Training pull and ledger")."""

from __future__ import annotations

import numpy as np

from sim.model.rules.ledger import DATA_TYPES, Ledger, first_pull_data, new_posts_data


def test_data_types():
    assert DATA_TYPES == ("profiles", "text_tokens", "face_images", "other_images")


def test_first_pull_is_the_profile_and_the_backlog_split_by_the_initial_face_share():
    data = first_pull_data(True, 10.0, 400.0, 120.0, 0.15, 0.47)
    np.testing.assert_allclose(data, [1.0, 400 + 120 * 10, 1 + 10 * 0.15, 10 * 0.85 * 0.47])
    no_photo_no_posts = first_pull_data(False, 0.0, 400.0, 120.0, 0.15, 0.47)
    np.testing.assert_allclose(no_photo_no_posts, [1.0, 400.0, 0.0, 0.0])


def test_first_pull_on_arrays_has_data_types_last():
    data = first_pull_data(np.array([True, False, True]), np.array([0.0, 5.0, 2.0]), 400.0, 120.0, 0.2, 0.5)
    assert data.shape == (3, len(DATA_TYPES))
    np.testing.assert_allclose(data[:, 0], 1.0)
    np.testing.assert_allclose(data[:, 2], [1.0, 1.0, 1.4])


def test_new_posts_every_post_carries_text_and_images_count_by_type():
    data = new_posts_data(np.array([2]), np.array([1]), np.array([3]), 120.0)
    np.testing.assert_allclose(data, [[0.0, 120.0 * 6, 3.0, 1.0]])


def test_ledger_ingest_is_weighted_and_per_region():
    ledger = Ledger(3)
    ledger.ingest(1, np.array([1.0, 100.0, 2.0, 3.0]), 1000.0)
    ledger.ingest(1, np.array([0.0, 50.0, 0.0, 1.0]), 1000.0)
    np.testing.assert_allclose(ledger.total[1], [1000.0, 150_000.0, 2000.0, 4000.0])
    assert np.all(ledger.total[[0, 2]] == 0)
    assert np.all(ledger.from_objectors == 0) and np.all(ledger.removed == 0)


def test_objection_marks_data_as_objectors_and_removal_takes_it_out():
    ledger = Ledger(1)
    ledger.ingest(0, np.array([2.0, 200.0, 1.0, 1.0]), 10.0)
    ledger.objected(0, np.array([1.0, 80.0, 1.0, 0.0]), 10.0)
    np.testing.assert_allclose(ledger.from_objectors[0], [10.0, 800.0, 10.0, 0.0])
    np.testing.assert_allclose(ledger.total[0], [20.0, 2000.0, 10.0, 10.0])  # objecting removes nothing
    ledger.remove(0, np.array([1.0, 80.0, 1.0, 0.0]), 10.0)
    np.testing.assert_allclose(ledger.total[0], [10.0, 1200.0, 0.0, 10.0])
    np.testing.assert_allclose(ledger.from_objectors[0], 0.0, atol=1e-9)
    np.testing.assert_allclose(ledger.removed[0], [10.0, 800.0, 10.0, 0.0])


def test_removing_objectors_data_never_leaves_a_negative_objector_total():
    ledger = Ledger(1)
    a, b = np.full(4, 0.1), np.full(4, 0.2)
    ledger.ingest(0, a + b, 10.0)
    ledger.objected(0, a, 10.0)  # two members object on different days
    ledger.objected(0, b, 10.0)
    ledger.remove(0, a + b, 10.0)  # and are removed at the same pull
    assert np.all(ledger.from_objectors >= 0)
    assert np.all(ledger.total >= 0)
