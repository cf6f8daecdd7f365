"""Item-kNN co-view baseline: items that appear near the query item in sessions.

A thin item-to-item view of :class:`recstack.sequential.models.ItemKNNRecommender` (windowed
co-occurrence, 1/distance weights, cosine normalisation, popularity tie-breaker) queried with
one item, so the embeddings are compared with the co-occurrence counts they compress.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np
import pandas as pd

from recstack.embeddings.models import config_from_overrides, register_embedding_model
from recstack.errors import ConfigError
from recstack.sequential.models import ItemKNNRecommender


@dataclass
class ItemKNNConfig:
    window: int = 3  # same reach as the embeddings' window
    directed: bool = False  # "viewed together" is symmetric: count both orders
    alpha: float = 0.5  # 0.5 = cosine of co-occurrence rows
    n_neighbours: int = 200  # strongest neighbours kept per item


class CoViewItemKNN:
    """Estimator: ``fit(sequences, n_items)``, then ``similarity(items)``."""

    def __init__(self, **params: Any):
        self.config = ItemKNNConfig(**params)

    def get_params(self) -> dict[str, Any]:
        return asdict(self.config)

    def fit(self, sequences: list[np.ndarray], n_items: int,
            item_metadata: pd.DataFrame | None = None) -> Self:
        self.model_ = ItemKNNRecommender.from_params(
            {**asdict(self.config), "n_recent": 1}).fit(sequences, n_items)
        self.item_counts_ = np.bincount(np.concatenate(
            [np.asarray(s, dtype=np.int64) for s in sequences] or [np.zeros(0, np.int64)]),
            minlength=n_items + 1)
        return self

    def similarity(self, items: np.ndarray) -> np.ndarray:
        """Co-view similarity of each query item to every item: ``(B, n_items + 1)``."""
        if not hasattr(self, "model_"):
            raise ConfigError("the model is not fitted", field="model", fix="call fit() first")
        return self.model_.score([np.array([q]) for q in np.asarray(items, dtype=np.int64)])


@register_embedding_model("itemknn", vectors=False)
def _build_itemknn(overrides: dict[str, Any], dataset: str | None) -> CoViewItemKNN:
    return CoViewItemKNN(**asdict(config_from_overrides(ItemKNNConfig, overrides)))
