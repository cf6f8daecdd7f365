"""Popularity and item-kNN: exact behaviour on toy sequences, real behaviour on ML-100K."""

import numpy as np
import pytest

from recstack.errors import ConfigError, NotFoundError
from recstack.evaluation import count_items, evaluate_scores
from recstack.sequential.base import Recommender, available_models, model_class
from recstack.sequential.models import ItemKNNRecommender, PopularityRecommender

TOY = [np.array([1, 2, 3]), np.array([1, 2, 4]), np.array([2, 3]), np.array([5, 1, 2])]


def test_registry_knows_the_baselines_and_names_the_alternatives():
    assert {"popularity", "itemknn"} <= set(available_models())
    with pytest.raises(NotFoundError, match="itemknn"):
        model_class("sasrek")


def test_params_are_type_checked():
    model = ItemKNNRecommender.from_params({"window": "2", "directed": "false"})
    assert model.config.window == 2 and model.config.directed is False
    with pytest.raises(ConfigError, match="window"):
        ItemKNNRecommender.from_params({"windw": 2})
    with pytest.raises(ConfigError, match="int"):
        ItemKNNRecommender.from_params({"window": "two"})
    with pytest.raises(ConfigError, match="decay"):
        ItemKNNRecommender.from_params({"decay": 0})


def test_popularity_scores_are_training_counts():
    model = PopularityRecommender().fit(TOY, n_items=5)
    # counts: item1 3, item2 4, item3 2, item4 1, item5 1
    assert model.score([np.array([1])])[0].tolist() == [0, 3, 4, 2, 1, 1]
    items, _ = model.recommend([np.array([2])], k=2)
    assert items[0].tolist() == [1, 3]  # 2 is seen, so 1 then 3


def test_markov_itemknn_follows_transitions():
    # window=1, n_recent=1: a first-order chain. After 2 come 3 (twice) and 4 (once).
    model = ItemKNNRecommender.from_params({"window": 1, "n_recent": 1}).fit(TOY, n_items=5)
    items, scores = model.recommend([np.array([5, 1, 2])], k=3)
    assert items[0][:2].tolist() == [3, 4]
    assert scores[0][0] > scores[0][1] > scores[0][2]  # 3rd is a popularity tie-break only
    assert model.similarity_[2, 3] > model.similarity_[2, 4] > 0
    assert model.similarity_[3, 2] == 0  # directed: 2 never follows 3


def test_recommend_excludes_seen_and_applies_allowed_mask():
    model = ItemKNNRecommender().fit(TOY, n_items=5)
    allowed = np.array([False, True, False, True, True, False])
    items, scores = model.recommend([np.array([1])], k=5, allowed=allowed)
    finite = items[0][np.isfinite(scores[0])]
    assert set(finite.tolist()) == {3, 4}  # 1 seen; 2 and 5 not allowed


@pytest.mark.parametrize("cls", [PopularityRecommender, ItemKNNRecommender])
def test_save_load_round_trip(cls: type[Recommender], tmp_path):
    model = cls().fit(TOY, n_items=5)
    model.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    assert type(loaded) is cls and loaded.config == model.config
    hist = [np.array([1, 2]), np.array([5])]
    np.testing.assert_allclose(loaded.score(hist), model.score(hist))


def test_itemknn_beats_popularity_on_ml100k(ml100k_split):
    split = ml100k_split
    counts = count_items(split.train, split.n_items)
    ndcg = {}
    for cls in (PopularityRecommender, ItemKNNRecommender):
        model = cls().fit(split.train, split.n_items)
        result = evaluate_scores(model.score, split.valid, split.n_items, item_counts=counts,
                                 ks=(10,), sampled_negatives=None, progress=False)
        ndcg[cls.model_type] = result.metrics["ndcg_at_10"]
    assert ndcg["popularity"] > 0.01  # far above random (10/1682 * ~0.5)
    assert ndcg["itemknn"] > 1.5 * ndcg["popularity"]
