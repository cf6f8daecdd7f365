"""A servable recommender: the fitted model plus what serving needs around it.

The bundle adds the item vocabulary (external ids and metadata) and the users' known histories,
so a request can name a user or send its own history in external item ids. It is what gets
logged to MLflow and loaded by alias at serving time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recstack.data.dataset import SequenceDataset
from recstack.errors import DataError, NotFoundError
from recstack.evaluation.ranking import mask_items, top_k
from recstack.filters import MetadataFilter
from recstack.sequential.base import Recommender

BUNDLE_FILE = "bundle.json"


@dataclass
class Recommendation:
    item_id: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Query:
    """One recommendation request, in external ids."""

    user_id: str | None = None
    history: list[str] | None = None
    k: int = 10
    exclude_seen: bool = True
    filters: dict[str, str] | None = None


@dataclass
class RecommenderBundle:
    """Model + item table (index = internal id 1..n) + user histories (internal ids)."""

    model: Recommender
    items: pd.DataFrame  # index internal id; column item_id plus metadata columns
    histories: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)  # dataset, protocol, run id, …

    def __post_init__(self) -> None:
        self._filter = MetadataFilter(self.items, self.metadata_fields)
        # Plain Python lists indexed by internal id: building responses must not touch pandas.
        meta = self.items[self.metadata_fields].to_dict(orient="records")
        empty: dict[str, Any] = {}
        self._records: list[dict[str, Any]] = [empty] + [
            {str(k): _plain(v) for k, v in m.items()} for m in meta]
        self._item_ids: list[str] = [""] + [str(x) for x in self.items["item_id"]]
        self._index = {str(x): i for i, x in zip(self.items.index, self.items["item_id"],
                                                  strict=True)}

    @classmethod
    def from_dataset(cls, model: Recommender, dataset: SequenceDataset,
                     info: dict[str, Any] | None = None) -> RecommenderBundle:
        items = pd.DataFrame({"item_id": dataset.item_ids},
                             index=pd.RangeIndex(1, dataset.n_items + 1, name="internal_id"))
        if dataset.item_metadata is not None:
            items = items.join(dataset.item_metadata)
        histories = dict(zip(dataset.user_ids, dataset.sequences, strict=True))
        return cls(model=model, items=items, histories=histories, info=dict(info or {}))

    @property
    def metadata_fields(self) -> list[str]:
        return [c for c in self.items.columns if c != "item_id"]

    def encode_history(self, item_ids: list[str]) -> np.ndarray:
        unknown = [x for x in item_ids if str(x) not in self._index]
        if unknown:
            raise NotFoundError(f"unknown item id(s) {unknown[:5]} in the history",
                                field="history", fix="send item ids from the model's catalogue")
        return np.array([self._index[str(x)] for x in item_ids], dtype=np.int64)

    def history_of(self, user_id: str) -> np.ndarray:
        if user_id not in self.histories:
            raise NotFoundError(f"unknown user {user_id!r} and no history given",
                                field="user_id", fix="send the user's recent items in 'history'")
        return self.histories[user_id]

    def _filter_mask(self, filters: dict[str, str] | None) -> np.ndarray | None:
        """Items (n_items + 1,) allowed by every filter (``recstack.filters`` semantics)."""
        if not filters:
            return None
        allowed = np.zeros(len(self.items) + 1, dtype=bool)  # 0 is padding, never allowed
        allowed[1:] = self._filter.mask(filters)
        return allowed

    def _sequence(self, query: Query) -> np.ndarray:
        if query.k <= 0:
            raise DataError("k must be positive", field="k", fix="ask for k >= 1")
        if query.history:
            return self.encode_history(query.history)
        if query.user_id is not None:
            return self.history_of(query.user_id)
        raise DataError("give a user_id or a non-empty history", field="user_id",
                        fix="send 'user_id' of a known user or 'history' with item ids")

    def recommend_many(self, queries: list[Query]) -> list[list[Recommendation]]:
        """Answer several queries with one batched forward pass of the model."""
        if not queries:
            return []
        sequences = [self._sequence(q) for q in queries]
        scores = self.model.score(sequences).astype(np.float32, copy=False)  # (B, I+1)
        empty = np.zeros(0, dtype=np.int64)
        mask_items(scores, [s if q.exclude_seen else empty
                            for s, q in zip(sequences, queries, strict=True)])
        for row, query in enumerate(queries):
            allowed = self._filter_mask(query.filters)
            if allowed is not None:
                scores[row, ~allowed] = -np.inf
        items, top = top_k(scores, max(q.k for q in queries))
        return [self._results(items[r, : q.k], top[r, : q.k]) for r, q in enumerate(queries)]

    def recommend(self, *, user_id: str | None = None, history: list[str] | None = None,
                  k: int = 10, exclude_seen: bool = True,
                  filters: dict[str, str] | None = None) -> list[Recommendation]:
        """Top-k items for a known user, or for a history of external item ids."""
        return self.recommend_many([Query(user_id, history, k, exclude_seen, filters)])[0]

    def _results(self, items: np.ndarray, scores: np.ndarray) -> list[Recommendation]:
        return [Recommendation(self._item_ids[i], float(s), self._records[i])
                for i, s in zip(items.tolist(), scores.tolist(), strict=True)
                if np.isfinite(s)]

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save(directory / "model")
        self.items.to_parquet(directory / "items.parquet")
        users = list(self.histories)
        pd.DataFrame({"user_id": users,
                      "history": [self.histories[u].tolist() for u in users]}
                     ).to_parquet(directory / "histories.parquet")
        (directory / BUNDLE_FILE).write_text(json.dumps(self.info, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: Path) -> RecommenderBundle:
        if not (directory / BUNDLE_FILE).exists():
            raise DataError(f"{directory} holds no recstack recommender", field="model",
                            fix="point at a directory written by RecommenderBundle.save")
        hist = pd.read_parquet(directory / "histories.parquet")
        histories = {str(u): np.asarray(h, dtype=np.int64)
                     for u, h in zip(hist["user_id"], hist["history"], strict=True)}
        return cls(model=Recommender.load(directory / "model"),
                   items=pd.read_parquet(directory / "items.parquet"), histories=histories,
                   info=json.loads((directory / BUNDLE_FILE).read_text()))


def _plain(value: Any) -> Any:
    """JSON-friendly scalar (numpy types and NaN become Python values / None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
