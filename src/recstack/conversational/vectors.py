"""Merchant vectors for open recommendations: e5 embeddings of each merchant's document (name,
category, district, review keywords), computed once at ``chat build`` time and cached beside the
graph, and FastRP graph embeddings computed from the graph when the recommender starts.

The e5 model takes about a minute to load on a 2-core machine, so embeddings are never computed
while answering: only the question is encoded then (one short text).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recstack.conversational.graph import GraphStore, graph_path
from recstack.conversational.schema import SHARES
from recstack.errors import NotFoundError
from recstack.settings import Settings

VECTORS_FILE = "merchant_e5.npz"


def vectors_path(settings: Settings) -> Path:
    """``merchant_e5.npz`` beside the graph file."""
    return graph_path(settings).parent / VECTORS_FILE


def merchant_documents(store: GraphStore, districts: Sequence[str] | None = None
                       ) -> tuple[np.ndarray, list[str]]:
    """Merchant ids and the text e5 embeds for each: ``name — category, district. 리뷰: …``.

    The CSV's ``text`` column is a template sentence built from the usage columns, which the
    scoring model reads directly; it is left out so the vectors carry what the name says.
    """
    where = " WHERE m.district IN $districts" if districts else ""
    rows = store.query("MATCH (m:Merchant)" + where + " RETURN m.id AS id, m.name AS name, "
                       "m.category AS category, m.district AS district, m.keywords AS keywords "
                       "ORDER BY id", {"districts": list(districts)} if districts else None)
    docs = []
    for row in rows:
        doc = f"{row['name']} — {row['category']}, {row['district'] or '제주'}"
        if row["keywords"]:
            doc += f". 리뷰: {row['keywords'].replace(',', ', ')}"
        docs.append(doc)
    return np.array([int(r["id"]) for r in rows], dtype=np.int64), docs


@dataclass
class VectorReport:
    path: Path
    changed: bool
    merchants: int
    seconds: float


def build_vectors(settings: Settings, store: GraphStore, *, fingerprint: str,
                  districts: Sequence[str] | None = None,
                  encode: Callable[[list[str]], np.ndarray] | None = None,
                  progress: Any = None) -> VectorReport:
    """Embed every merchant (or those of ``districts``, for small tests) and save the vectors;
    nothing is done when the saved file has the same graph fingerprint and selection."""
    started = time.perf_counter()
    path = vectors_path(settings)
    selection = ",".join(sorted(districts)) if districts else "*"
    if path.exists():
        with np.load(path) as saved:
            if (str(saved["fingerprint"]) == fingerprint
                    and str(saved["selection"]) == selection):
                return VectorReport(path, False, len(saved["ids"]),
                                    time.perf_counter() - started)
    ids, docs = merchant_documents(store, districts)
    encode = encode or e5_passages(settings)
    task = progress.add_task("chat build: e5 vectors", total=len(docs)) if progress else None
    chunks = []
    for start in range(0, len(docs), 256):
        chunks.append(encode(docs[start:start + 256]))
        if progress is not None:
            progress.update(task, advance=len(chunks[-1]))
    vectors = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, 384))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, ids=ids, vectors=vectors, fingerprint=np.array(fingerprint),
             selection=np.array(selection))
    partial.replace(path)
    return VectorReport(path, True, len(ids), time.perf_counter() - started)


def load_vectors(settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """(ids, L2-normalised vectors); a NotFoundError saying ``recstack chat build``."""
    path = vectors_path(settings)
    if not path.exists():
        raise NotFoundError(f"no merchant vectors at {path}", field="vectors",
                            fix="run `recstack chat build` (it embeds the merchants once)")
    with np.load(path) as saved:
        return saved["ids"].astype(np.int64), saved["vectors"].astype(np.float32)


def e5_passages(settings: Settings) -> Callable[[list[str]], np.ndarray]:
    """e5 ``passage:`` embeddings (loads the model on first call)."""
    return _E5(settings, "passage")


def e5_queries(settings: Settings) -> Callable[[str], np.ndarray]:
    """e5 ``query:`` embedding of one question (loads the model on first call)."""
    return _E5(settings, "query")


QUESTION_TOKENS = 64  # "query: " + a question: the eval set's average 19 tokens, longest far below
QUESTION_CACHE = 1024  # question vectors kept per process (1.5 kB each)

_MODELS: dict[Path, Any] = {}  # one loaded e5 per home: passages and queries share it
_MODELS_LOCK = threading.Lock()


class _E5:
    def __init__(self, settings: Settings, kind: str):
        self.settings, self.kind = settings, kind
        # Repeated questions (a UI rerun, the same question in two threads, the service's
        # retries) skip the model: encoding is ~85% of an open recommendation's time.
        self._question = functools.lru_cache(maxsize=QUESTION_CACHE)(self._encode_question)

    def _model(self) -> tuple[Any, Any]:
        from recstack.encoders import load_e5

        with _MODELS_LOCK:
            if self.settings.home not in _MODELS:
                _MODELS[self.settings.home] = load_e5(self.settings)
            return _MODELS[self.settings.home]

    def __call__(self, texts: Any) -> np.ndarray:
        from recstack.encoders import PASSAGE, embed

        if self.kind == "passage":
            model, tokenizer = self._model()
            return embed(model, tokenizer, texts, prefix=PASSAGE)
        return self._question(texts)

    def _encode_question(self, text: str) -> np.ndarray:
        import torch

        from recstack.encoders import QUERY, embed

        model, tokenizer = self._model()
        # One short question: one thread. On a busy 2-core machine two threads spin against
        # each other (measured: about 1 s a question with 2 threads, 0.1 s with 1). The token
        # cap bounds a long question's cost (attention is quadratic in its length).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            vector = embed(model, tokenizer, text, prefix=QUERY, max_length=QUESTION_TOKENS)
        finally:
            torch.set_num_threads(threads)
        vector.setflags(write=False)  # shared by every caller of the cache
        return vector


def fastrp(store: GraphStore, *, dim: int = 64, weights: Sequence[float] = (0.0, 1.0, 1.0, 0.5),
           feature_weight: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """FastRP (Chen et al. 2019) over Merchant–District and Merchant–Category, with each
    merchant's usage shares and bands as node properties (as Neo4j GDS's ``propertyRatio``):
    merchants end up near merchants of the same place and kind with similar customers.

    Returns (merchant ids, L2-normalised embeddings).
    """
    from scipy import sparse

    props = [s.prop for s in SHARES]
    rows = store.query("MATCH (m:Merchant) RETURN m.id AS id, m.district AS district, "
                       "m.category AS category, m.cnt_band AS cnt, m.amt_band AS amt, "
                       + ", ".join(f"m.{p} AS {p}" for p in props) + " ORDER BY id")
    n = len(rows)
    places = sorted({r["district"] or "?" for r in rows})
    kinds = sorted({r["category"] for r in rows})
    index = {name: n + i for i, name in enumerate(places)}
    index.update({("c", k): n + len(places) + i for i, k in enumerate(kinds)})
    size = n + len(places) + len(kinds)
    src, dst = [], []
    for i, row in enumerate(rows):
        for j in (index[row["district"] or "?"], index[("c", row["category"])]):
            src += [i, j]
            dst += [j, i]
    adjacency = sparse.csr_matrix((np.ones(len(src)), (src, dst)), shape=(size, size))
    degree = np.asarray(adjacency.sum(1)).ravel()
    step = sparse.diags(1.0 / np.maximum(degree, 1)) @ adjacency
    rng = np.random.default_rng(seed)
    # Very sparse random projection (Achlioptas / Li et al.): ±sqrt(3) with probability 1/6 each.
    projection = rng.choice([-np.sqrt(3), 0.0, np.sqrt(3)], p=[1 / 6, 2 / 3, 1 / 6],
                            size=(size, dim))
    features = np.array([[float(r[p]) for p in props] + [r["cnt"] / 6, r["amt"] / 6]
                         for r in rows])
    features = (features - features.mean(0)) / (features.std(0) + 1e-9)
    projection[:n] += feature_weight * features @ rng.normal(size=(features.shape[1], dim))
    current, total = projection, np.zeros((size, dim))
    for weight in weights:
        total += weight * _normalise(current)
        current = step @ current
    return np.array([int(r["id"]) for r in rows], dtype=np.int64), _normalise(total[:n])


def _normalise(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
