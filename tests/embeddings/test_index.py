"""Contract every nearest-neighbour backend must pass, judged against exact search."""

import numpy as np
import pytest

from recstack.embeddings import available_indexes, index_class
from recstack.errors import ConfigError, DataError

BACKENDS = ["exact", "faiss-hnsw", "usearch"]


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 24))
    points = centres[rng.integers(0, 20, 800)] + 0.3 * rng.normal(size=(800, 24))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def test_all_backends_are_registered():
    assert set(BACKENDS) <= set(available_indexes())


@pytest.mark.parametrize("backend", BACKENDS)
def test_search_matches_exact_search(backend, vectors):
    queries = vectors[:50]
    ids, scores = index_class(backend)().build(vectors).search(queries, 10)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact, strict=True)])
    assert recall >= 0.9
    assert ids.shape == scores.shape == (50, 10)
    assert (np.diff(scores, axis=1) <= 1e-5).all()  # best first
    assert np.allclose(scores, np.take_along_axis(queries @ vectors.T, ids, axis=1), atol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_and_load_give_the_same_answers(backend, vectors, tmp_path):
    index = index_class(backend)().build(vectors)
    index.save(tmp_path)
    loaded = index_class(backend).load(tmp_path, vectors)
    assert np.array_equal(index.search(vectors[:5], 7)[0], loaded.search(vectors[:5], 7)[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_asking_for_more_than_there_is_pads_the_rows(backend, vectors):
    ids, scores = index_class(backend)().build(vectors[:5]).search(vectors[:2], 8)
    assert ids.shape == (2, 8)
    assert (np.sort(ids[:, :5], axis=1) == np.arange(5)).all()
    assert (ids[:, 5:] == -1).all() and np.isneginf(scores[:, 5:]).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_finite_or_empty_vectors_are_refused(backend, vectors):
    bad = vectors.copy()
    bad[3, 2] = np.nan
    with pytest.raises(DataError):
        index_class(backend)().build(bad)
    with pytest.raises(DataError):
        index_class(backend)().build(np.zeros((0, 4), np.float32))


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        index_class("annoy")
    assert err.value.field == "index" and "usearch" in (err.value.fix or "")
