"""Item-kNN co-view baseline: items that appear near the query item in sessions.

The item-to-item view of the sequential item-kNN recommender: the same windowed co-occurrence
(:func:`recstack.data.cooccurrence.cooccurrence`: 1/distance weights, cosine normalisation) and
popularity tie-breaker, queried with one item, so the embeddings are compared with the
co-occurrence counts they compress.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np
import pandas as pd

from recstack.configs import build_config
from recstack.data.cooccurrence import cooccurrence
from recstack.embeddings.models import register_embedding_model
from recstack.errors import ConfigError

# Copied from recstack.sequential.models.itemknn.ItemKNNConfig.popularity_weight: the same
# tie-breaker, so both item-kNNs rank items without co-occurrence the same way.
POPULARITY_WEIGHT = 1e-6


@dataclass
class CoViewItemKNNConfig:
    """Co-view ("viewed together") kNN: undirected by default and queried with one item.

    Differs from :class:`recstack.sequential.models.ItemKNNConfig` (next-item kNN), which
    counts only "j after i" (``directed=True``) and scores a whole history with ``n_recent``
    items weighted by ``decay``; here a query is a single item, so those fields do not exist.
    """

    window: int = 3  # same reach as the embeddings' window
    directed: bool = False  # "viewed together" is symmetric: count both orders
    alpha: float = 0.5  # 0.5 = cosine of co-occurrence rows
    n_neighbours: int = 200  # strongest neighbours kept per item

    def __post_init__(self) -> None:
        for name in ("window", "n_neighbours"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1", field=name, fix=f"set {name}>=1")


class CoViewItemKNN:
    """Estimator: ``fit(sequences, n_items)``, then ``similarity(items)``."""

    def __init__(self, **params: Any):
        self.config = CoViewItemKNNConfig(**params)

    def get_params(self) -> dict[str, Any]:
        return asdict(self.config)

    def fit(self, sequences: list[np.ndarray], n_items: int,
            item_metadata: pd.DataFrame | None = None) -> Self:
        cfg = self.config
        co = cooccurrence(sequences, n_items, window=cfg.window, directed=cfg.directed,
                          alpha=cfg.alpha, n_neighbours=cfg.n_neighbours)
        self.similarity_ = co.similarity
        self.popularity_ = co.popularity
        self.item_counts_ = np.bincount(np.concatenate(
            [np.asarray(s, dtype=np.int64) for s in sequences] or [np.zeros(0, np.int64)]),
            minlength=n_items + 1)
        return self

    def similarity(self, items: np.ndarray) -> np.ndarray:
        """Co-view similarity of each query item to every item: ``(B, n_items + 1)``.

        Items outside 1..n_items (padding, unseen ids) get only the popularity tie-breaker.
        """
        if not hasattr(self, "similarity_"):
            raise ConfigError("the model is not fitted", field="model", fix="call fit() first")
        items = np.asarray(items, dtype=np.int64)  # (B,)
        known = (items > 0) & (items < self.similarity_.shape[0])
        scores = self.similarity_[np.where(known, items, 0)].toarray()  # (B, I+1) float32
        scores[~known] = 0.0
        scores += POPULARITY_WEIGHT * self.popularity_
        return scores


@register_embedding_model("itemknn", vectors=False)
def _build_itemknn(overrides: dict[str, Any], dataset: str | None) -> CoViewItemKNN:
    return CoViewItemKNN(**asdict(build_config(CoViewItemKNNConfig, overrides)))
