"""A servable "viewed together" model: item vectors, item table and a nearest-neighbour index.

The bundle is a folder: ``bundle.json`` (model type, config, index backend, run), ``items.csv``
(external ids and metadata, row ``r`` = internal id ``r + 1``), ``query.npy`` / ``candidate.npy``
(the vectors whose inner product is the model's co-view score) and the index files. It is what
gets logged to MLflow and loaded by alias at serving time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recstack.embeddings.index import VectorIndex, index_class
from recstack.errors import ConfigError, DataError, NotFoundError
from recstack.filters import MetadataFilter

BUNDLE_FILE = "bundle.json"
# Unfiltered requests ask the index for this many extra neighbours: the query item itself
# (usually its own best match) is removed afterwards.
_EXTRA = 1


def _plain(value: Any) -> Any:
    """JSON-ready Python value: NumPy scalars unwrapped, NaN as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


@dataclass
class SimilarItem:
    item_id: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class SimilarItemsBundle:
    """Vectors + item table + index; ``similar(item_id, k, filters)`` answers requests."""

    items: pd.DataFrame  # column item_id plus metadata columns, row r = internal id r + 1
    query_vectors: np.ndarray  # (n_items, D) float32
    candidate_vectors: np.ndarray  # (n_items, D) float32
    index: VectorIndex
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.items) != len(self.query_vectors) or len(self.items) != len(
                self.candidate_vectors):
            raise DataError("item table and vectors differ in length", field="items",
                            fix="rebuild the bundle from one fitted model")
        self.items = self.items.reset_index(drop=True)
        self.items["item_id"] = self.items["item_id"].astype(str)
        self._row = {item: r for r, item in enumerate(self.items["item_id"])}
        self.metadata_fields = [c for c in self.items.columns if c != "item_id"]
        meta = self.items[self.metadata_fields]
        self._records = [{str(k): _plain(v) for k, v in record.items()}
                         for record in meta.to_dict(orient="records")]
        self._filter = MetadataFilter(self.items, self.metadata_fields)

    @classmethod
    def from_vectors(cls, item_ids: np.ndarray, item_metadata: pd.DataFrame | None,
                     query_vectors: np.ndarray, candidate_vectors: np.ndarray, *,
                     index: str = "exact", info: dict[str, Any] | None = None,
                     metadata_columns: tuple[str, ...] = ("name", "city", "country",
                                                          "category", "title", "genres",
                                                          "year")) -> SimilarItemsBundle:
        """Build from a fitted model's ``(n_items + 1, D)`` vectors (row 0 padding dropped)."""
        items = pd.DataFrame({"item_id": np.asarray(item_ids, dtype=str)})
        if item_metadata is not None:
            keep = [c for c in metadata_columns if c in item_metadata.columns]
            meta = item_metadata[keep].reindex(range(1, len(items) + 1)).reset_index(drop=True)
            items = pd.concat([items, meta], axis=1)
        candidates = np.ascontiguousarray(candidate_vectors[1:], dtype=np.float32)
        built = index_class(index)().build(candidates)
        return cls(items=items, query_vectors=np.ascontiguousarray(query_vectors[1:],
                                                                   dtype=np.float32),
                   candidate_vectors=candidates, index=built,
                   info={**(info or {}), "index": index})

    def similar(self, item_id: str, k: int = 10,
                filters: dict[str, str] | None = None) -> list[SimilarItem]:
        """The ``k`` items most often viewed with ``item_id``, best first, never itself.

        ``filters`` keep items whose metadata matches (``{"city": "Osaka"}``, semantics in
        ``recstack.filters``; no match gives an empty list); a filtered request scans the
        matching items exactly, which is cheaper than over-fetching from the index when a
        city holds a few per cent of the catalogue.

        Raises:
            NotFoundError: for an unknown item id.
            DataError: for a filter on a field the items do not have (``filters.<field>``).
            ConfigError: for ``k < 1``.
        """
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}", field="k", fix="e.g. k=10")
        row = self._row.get(str(item_id))
        if row is None:
            raise NotFoundError(f"unknown item id {item_id!r}", field="item_id",
                                fix="use an item id of the model's catalogue, e.g. "
                                    f"{self.items['item_id'].iloc[0]!r}")
        query = self.query_vectors[row]
        if filters:
            allowed = self._filter.mask(filters)
            allowed[row] = False
            rows = np.flatnonzero(allowed)
            scores = self.candidate_vectors[rows] @ query  # (n_allowed,)
            order = np.argsort(-scores, kind="stable")[:k]
            ids, best = rows[order], scores[order]
        else:
            found, found_scores = self.index.search(query[None, :], k + _EXTRA)
            keep = (found[0] >= 0) & (found[0] != row)
            ids, best = found[0][keep][:k], found_scores[0][keep][:k]
        return [SimilarItem(str(self.items["item_id"].iat[r]), float(s), self._records[r])
                for r, s in zip(ids.tolist(), best.tolist(), strict=True)]

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.items.to_csv(directory / "items.csv", index=False)
        np.save(directory / "query.npy", self.query_vectors)
        np.save(directory / "candidate.npy", self.candidate_vectors)
        self.index.save(directory)
        (directory / BUNDLE_FILE).write_text(json.dumps(self.info, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: Path) -> SimilarItemsBundle:
        if not (directory / BUNDLE_FILE).is_file():
            raise DataError(f"no {BUNDLE_FILE} in {directory}", field="model",
                            fix="register the model with `recstack embeddings train`")
        info = json.loads((directory / BUNDLE_FILE).read_text())
        candidates = np.load(directory / "candidate.npy")
        items = pd.read_csv(directory / "items.csv", dtype={"item_id": str})
        return cls(items=items, query_vectors=np.load(directory / "query.npy"),
                   candidate_vectors=candidates,
                   index=index_class(info.get("index", "exact")).load(directory, candidates),
                   info=info)
