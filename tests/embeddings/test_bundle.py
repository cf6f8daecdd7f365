"""The servable bundle: similar items, filters, errors, save and load."""

import numpy as np
import pandas as pd
import pytest

from recstack.embeddings import SimilarItemsBundle
from recstack.errors import ConfigError, DataError, NotFoundError


@pytest.fixture(scope="module", params=["exact", "usearch", "faiss-hnsw"])
def bundle(request):
    rng = np.random.default_rng(1)
    n = 60
    meta = pd.DataFrame({"city": ["Osaka", "Tokyo", "Paris"] * 20,
                         "category": ["hotel", "tour"] * 30}, index=range(1, n + 1))
    vectors = np.vstack([np.zeros((1, 8)), rng.normal(size=(n, 8))]).astype(np.float32)
    ids = np.array([f"p{i:03d}" for i in range(n)], dtype=object)
    return SimilarItemsBundle.from_vectors(ids, meta, vectors, vectors, index=request.param,
                                           info={"model_type": "test"})


def _exact(bundle, item_id, k, mask=None):
    row = int(item_id[1:])
    scores = bundle.candidate_vectors @ bundle.query_vectors[row]
    scores[row] = -np.inf
    if mask is not None:
        scores[~mask] = -np.inf
    return [f"p{i:03d}" for i in np.argsort(-scores)[:k]]


def test_similar_items_exclude_the_item_and_follow_the_scores(bundle):
    found = bundle.similar("p005", 5)
    assert len(found) == 5 and "p005" not in [s.item_id for s in found]
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert len(set(_exact(bundle, "p005", 5)) & {s.item_id for s in found}) >= 4
    assert set(found[0].metadata) == {"city", "category"}


def test_filters_keep_only_matching_items_exactly(bundle):
    found = bundle.similar("p000", 4, {"city": "Tokyo", "category": "tour"})
    assert found and all(s.metadata == {"city": "Tokyo", "category": "tour"} for s in found)
    mask = ((bundle.items["city"] == "Tokyo") & (bundle.items["category"] == "tour")).to_numpy()
    assert [s.item_id for s in found] == _exact(bundle, "p000", 4, mask)


def test_filters_ignore_case_and_spaces_and_no_match_is_empty(bundle):
    # recstack.filters semantics, shared with the sequential bundle.
    assert [s.item_id for s in bundle.similar("p000", 4, {"city": " tokyo "})] == [
        s.item_id for s in bundle.similar("p000", 4, {"city": "Tokyo"})]
    assert bundle.similar("p001", 3, {"city": "Atlantis"}) == []


def test_bad_requests_name_the_field(bundle):
    with pytest.raises(NotFoundError) as err:
        bundle.similar("nope", 3)
    assert err.value.field == "item_id"
    with pytest.raises(DataError) as err:
        bundle.similar("p001", 3, {"planet": "Mars"})
    assert err.value.field == "filters.planet" and "city, category" in (err.value.fix or "")
    with pytest.raises(ConfigError):
        bundle.similar("p001", 0)


def test_save_and_load_round_trip(bundle, tmp_path):
    loaded = SimilarItemsBundle.load(bundle.save(tmp_path / "b"))
    assert [s.item_id for s in loaded.similar("p007", 6)] == [
        s.item_id for s in bundle.similar("p007", 6)]
    assert loaded.info["index"] == bundle.info["index"]
