"""Skip-gram pairs and subsampling shared by the embedding models."""

import numpy as np

from recstack.embeddings._vectors import flatten, keep_probabilities, skipgram_pairs


def test_pairs_stay_inside_sequences_and_the_window():
    flat, seq_id = flatten([np.array([1, 2, 3, 4]), np.array([5, 6])], 6)
    centers, contexts = skipgram_pairs(flat, seq_id, 2, np.random.default_rng(0))
    pos = {int(v): i for i, v in enumerate(flat)}
    gaps = np.array([abs(pos[c] - pos[x]) for c, x in zip(centers, contexts, strict=True)])
    assert ((gaps >= 1) & (gaps <= 2)).all()
    crossing = [(c, x) for c, x in zip(centers, contexts, strict=True)
                if (c <= 4) != (x <= 4)]
    assert not crossing
    # Neighbours one step apart are always paired, in both directions.
    pairs = set(zip(centers.tolist(), contexts.tolist(), strict=True))
    assert {(1, 2), (2, 1), (5, 6), (6, 5)} <= pairs


def test_shrunk_windows_make_near_pairs_more_frequent():
    flat = np.arange(1, 2001)
    centers, contexts = skipgram_pairs(flat, np.zeros(2000, np.int64), 3,
                                       np.random.default_rng(0))
    gaps = np.abs(centers - contexts)
    assert (gaps == 1).sum() > (gaps == 2).sum() > (gaps == 3).sum() > 0


def test_keep_probabilities_follow_word2vec():
    counts = np.array([0, 1000, 10, 1])
    assert (keep_probabilities(counts, 0.0) == 1).all()
    keep = keep_probabilities(counts, 1e-3)
    threshold = 1e-3 * counts.sum()
    assert np.isclose(keep[1], (np.sqrt(1000 / threshold) + 1) * threshold / 1000)
    assert keep[1] < keep[2] < keep[3] == 1.0 and keep[0] == 1.0
