"""Windowed co-occurrence similarity: exact counts on toy sequences."""

import numpy as np

from recstack.data.cooccurrence import cooccurrence, keep_top_per_row

TOY = [np.array([1, 2, 3]), np.array([1, 2, 4]), np.array([]), np.array([3, 1])]


def test_directed_window_one_counts_transitions_normalised_by_counts():
    co = cooccurrence(TOY, 4, window=1, directed=True, alpha=0.5, n_neighbours=10)
    assert co.counts.tolist() == [0, 3, 2, 2, 1]
    # 1 -> 2 twice, cosine-normalised by sqrt(3 * 2); no pair crosses a sequence boundary
    assert np.isclose(co.similarity[1, 2], 2 / np.sqrt(3 * 2))
    assert co.similarity[2, 1] == 0 and co.similarity[3, 1] > 0 and co.similarity[2, 3] > 0
    assert co.similarity[1, 3] == 0  # 1 and 3 are two steps apart
    assert co.similarity.dtype == np.float32 and co.similarity.shape == (5, 5)
    assert np.allclose(co.popularity, [0.0, 1.0, 2 / 3, 2 / 3, 1 / 3])


def test_undirected_wider_window_is_symmetric_with_distance_weights():
    co = cooccurrence(TOY, 4, window=2, directed=False, alpha=0.5, n_neighbours=10)
    dense = co.similarity.toarray()
    assert np.allclose(dense, dense.T) and np.all(np.diag(dense) == 0)
    # 1 and 3: distance 2 in the first sequence (weight 1/2), adjacent in the last (weight 1)
    assert np.isclose(dense[1, 3], 1.5 / np.sqrt(3 * 2))


def test_keep_top_per_row_keeps_the_largest_entries():
    sim = cooccurrence(TOY, 4, window=2, directed=False, alpha=0.5, n_neighbours=10).similarity
    top = keep_top_per_row(sim.copy(), 1).toarray()
    assert (np.count_nonzero(top, axis=1) <= 1).all()
    assert top[1].argmax() == sim.toarray()[1].argmax()
