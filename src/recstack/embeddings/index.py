"""Nearest-neighbour indexes over unit item vectors, behind one small interface.

Backends (``@register_index``): ``exact`` (NumPy matrix product, the reference), ``faiss-hnsw``
(``faiss.IndexHNSWFlat``, inner product) and ``usearch`` (HNSW, inner product). hnswlib is not
installed here. ``benchmarks/ann_index.py`` measures them on the real item vectors; see
``docs/embeddings.md`` for the choice. Vectors must be L2-normalised so that the inner product
is the cosine similarity.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from recstack.errors import DataError
from recstack.plugins import PluginTable

_INDEXES: PluginTable[type[VectorIndex]] = PluginTable("index backend", field="index")


def register_index(name: str) -> Callable[[type[VectorIndex]], type[VectorIndex]]:
    def wrap(cls: type[VectorIndex]) -> type[VectorIndex]:
        cls.name = name
        return _INDEXES.add(name, cls)
    return wrap


def index_class(name: str) -> type[VectorIndex]:
    """The backend registered as ``name``; an unknown name lists the known ones."""
    return _INDEXES.get(name)


def available_indexes() -> list[str]:
    return _INDEXES.names()


class VectorIndex(ABC):
    """Top-k inner-product search over rows ``0..N-1`` of a float32 matrix."""

    name: ClassVar[str] = ""
    FILE: ClassVar[str] = "index.bin"

    @abstractmethod
    def build(self, vectors: np.ndarray) -> VectorIndex:
        """Index ``(N, D)`` vectors; row ``r`` is returned as id ``r``. Returns self."""

    @abstractmethod
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(B, k)`` ids and scores per query, best first; ``-1`` / ``-inf`` pad short rows."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the index into ``directory`` (created by the caller)."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, vectors: np.ndarray) -> VectorIndex:
        """Read what ``save`` wrote; ``vectors`` are the indexed rows (some backends need them)."""


def _checked(vectors: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if array.ndim != 2 or len(array) == 0:
        raise DataError(f"expected a non-empty (N, D) matrix, got shape {array.shape}",
                        field="vectors", fix="pass one vector per item")
    if not np.isfinite(array).all():
        raise DataError("vectors contain NaN or infinity", field="vectors",
                        fix="retrain the model: its weights diverged")
    return array


def _augment_candidates(vectors: np.ndarray) -> np.ndarray:
    """Inner-product search as nearest-neighbour search (Bachrach et al., RecSys 2014).

    Each candidate gets one extra coordinate ``sqrt(M^2 - |x|^2)`` (``M`` the largest norm), so
    all candidates have norm ``M``; a query padded with 0 keeps every inner product, and the
    best inner product is now also the nearest point, which is what HNSW graphs are built for.
    Without it, graph recall on the unnormalised Meta-Prod2Vec vectors is far lower.
    """
    norms = np.linalg.norm(vectors, axis=1)
    extra = np.sqrt(np.maximum(norms.max() ** 2 - norms ** 2, 0.0))[:, None]
    return np.ascontiguousarray(np.hstack([vectors, extra]), dtype=np.float32)


def _augment_queries(queries: np.ndarray, ndim: int) -> np.ndarray:
    query = np.atleast_2d(queries).astype(np.float32)
    if query.shape[1] == ndim - 1:
        query = np.hstack([query, np.zeros((len(query), 1), np.float32)])
    return np.ascontiguousarray(query)


def _pad(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    short = k - ids.shape[1]
    if short > 0:
        ids = np.pad(ids, ((0, 0), (0, short)), constant_values=-1)
        scores = np.pad(scores, ((0, 0), (0, short)), constant_values=-np.inf)
    return ids.astype(np.int64), scores.astype(np.float32)


@register_index("exact")
class ExactIndex(VectorIndex):
    """Brute force: one matrix product; the reference the approximate backends are judged by."""

    def build(self, vectors: np.ndarray) -> ExactIndex:
        self.vectors_ = _checked(vectors)
        return self

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.atleast_2d(queries).astype(np.float32) @ self.vectors_.T  # (B, N)
        k_eff = min(k, scores.shape[1])
        part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]  # (B, k)
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        return _pad(np.take_along_axis(part, order, axis=1),
                    np.take_along_axis(part_scores, order, axis=1), k)

    def save(self, directory: Path) -> None:
        pass  # the bundle already stores the vectors

    @classmethod
    def load(cls, directory: Path, vectors: np.ndarray) -> ExactIndex:
        return cls().build(vectors)


@register_index("faiss-hnsw")
class FaissHNSWIndex(VectorIndex):
    """faiss HNSW graph with flat (exact) vector storage, inner-product metric."""

    def __init__(self, connectivity: int = 32, ef_construction: int = 200,
                 ef_search: int = 128):
        self.connectivity, self.ef_construction = connectivity, ef_construction
        self.ef_search = ef_search

    def build(self, vectors: np.ndarray) -> FaissHNSWIndex:
        import faiss

        array = _augment_candidates(_checked(vectors))
        self.index_: Any = faiss.IndexHNSWFlat(array.shape[1], self.connectivity,
                                               faiss.METRIC_INNER_PRODUCT)
        self.index_.hnsw.efConstruction = self.ef_construction
        self.index_.add(array)
        self.index_.hnsw.efSearch = self.ef_search
        return self

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self.index_.search(_augment_queries(queries, self.index_.d), k)
        return _pad(ids, np.where(ids >= 0, scores, -np.inf), k)

    def save(self, directory: Path) -> None:
        import faiss

        faiss.write_index(self.index_, str(directory / self.FILE))

    @classmethod
    def load(cls, directory: Path, vectors: np.ndarray) -> FaissHNSWIndex:
        import faiss

        out = cls()
        out.index_ = faiss.read_index(str(directory / cls.FILE))
        out.index_.hnsw.efSearch = out.ef_search
        return out


@register_index("usearch")
class USearchIndex(VectorIndex):
    """usearch HNSW, inner-product metric, float32 storage."""

    def __init__(self, connectivity: int = 32, expansion_add: int = 200,
                 expansion_search: int = 128):
        self.connectivity, self.expansion_add = connectivity, expansion_add
        self.expansion_search = expansion_search

    def _empty(self, ndim: int) -> object:
        from usearch.index import Index

        return Index(ndim=ndim, metric="ip", dtype="f32", connectivity=self.connectivity,
                     expansion_add=self.expansion_add, expansion_search=self.expansion_search)

    def build(self, vectors: np.ndarray) -> USearchIndex:
        array = _augment_candidates(_checked(vectors))
        self.index_ = self._empty(array.shape[1])
        self.index_.add(np.arange(len(array), dtype=np.uint64), array)  # type: ignore[attr-defined]
        return self

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        query = _augment_queries(queries, self.index_.ndim)  # type: ignore[attr-defined]
        matches = self.index_.search(query, k)  # type: ignore[attr-defined]
        keys = np.atleast_2d(matches.keys).astype(np.int64)
        distances = np.atleast_2d(matches.distances)
        # One query gives a ``Matches`` (no ``counts``), several a ``BatchMatches``.
        counts = np.atleast_1d(np.asarray(getattr(matches, "counts", keys.shape[1])))
        found = np.arange(keys.shape[1])[None, :] < counts[:, None]
        # usearch's "ip" distance is 1 - inner product; unfilled slots hold garbage.
        scores = np.where(found, 1.0 - np.where(found, distances, 0.0), -np.inf)
        return _pad(np.where(found, keys, -1), scores, k)

    def save(self, directory: Path) -> None:
        self.index_.save(str(directory / self.FILE))  # type: ignore[attr-defined]

    @classmethod
    def load(cls, directory: Path, vectors: np.ndarray) -> USearchIndex:
        out = cls()
        out.index_ = out._empty(vectors.shape[1] + 1)  # + the augmentation coordinate
        out.index_.load(str(directory / cls.FILE))  # type: ignore[attr-defined]
        return out
