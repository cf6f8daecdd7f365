"""Prod2Vec (gensim) and the item-kNN baseline on simulated travel sessions."""

import numpy as np
import pytest

from recstack.embeddings import CoViewItemKNN, Prod2Vec, evaluate_next_view
from recstack.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def prod2vec(travel_split):
    return Prod2Vec(dim=16, epochs=5).fit(travel_split.train, travel_split.n_items)


def test_prod2vec_learns_vectors_for_every_training_item(prod2vec, travel_split):
    seen = travel_split.item_counts > 0
    norms = np.linalg.norm(prod2vec.query_vectors_, axis=1)
    assert (norms[seen] > 0).all() and (norms[~seen] == 0).all()


def test_prod2vec_is_reproducible_with_one_worker(prod2vec, travel_split):
    again = Prod2Vec(dim=16, epochs=5).fit(travel_split.train, travel_split.n_items)
    assert np.allclose(again.query_vectors_, prod2vec.query_vectors_)


def test_baselines_predict_the_next_view_far_better_than_chance(prod2vec, travel_split):
    chance = 10 / travel_split.n_items
    knn = CoViewItemKNN().fit(travel_split.train, travel_split.n_items)
    for model in (prod2vec, knn):
        metrics = evaluate_next_view(model, travel_split, "valid")
        assert metrics["hr_at_10"] > 5 * chance
        assert metrics["n_rows"] == len(travel_split.valid)


def test_itemknn_scores_co_viewed_items_above_others():
    sequences = [np.array([1, 2]), np.array([2, 1]), np.array([1, 2, 3]), np.array([4, 5])]
    scores = CoViewItemKNN(window=2).fit(sequences, 5).similarity(np.array([1]))[0]
    assert scores[2] > scores[3] > scores[4]


def test_prod2vec_bad_input():
    with pytest.raises(ConfigError) as err:
        Prod2Vec(window=0)
    assert err.value.field == "window"
    with pytest.raises(DataError):
        Prod2Vec().fit([np.array([1])], 1)
    with pytest.raises(ConfigError, match="not fitted"):
        Prod2Vec().similarity(np.array([1]))
