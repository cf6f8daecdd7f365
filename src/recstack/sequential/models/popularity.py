"""Most-popular baseline: every user gets the items clicked most often in training.

The floor any personalised model must clear; also the fallback for users without history.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np

from recstack.evaluation.metrics import count_items
from recstack.sequential.base import FitContext, Recommender, register_model


@dataclass
class PopularityConfig:
    recent_share: float = 1.0  # use only the latest share of each user's events (1.0 = all)


@register_model("popularity")
class PopularityRecommender(Recommender):
    """Scores items by their training click count."""

    Config = PopularityConfig
    config: PopularityConfig

    def fit(self, sequences: list[np.ndarray], n_items: int,
            context: FitContext | None = None) -> Self:
        share = self.config.recent_share
        recent = [s[int(len(s) * (1 - share)):] for s in sequences]
        self.counts_ = count_items(recent, n_items).astype(np.float32)
        self.counts_[0] = 0.0
        self.n_items_ = n_items
        return self

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        return np.broadcast_to(self.counts_, (len(histories), self.n_items_ + 1)).copy()

    def _save_state(self, directory: Path) -> None:
        np.save(directory / "counts.npy", self.counts_)

    def _load_state(self, directory: Path) -> None:
        self.counts_ = np.load(directory / "counts.npy")
        self.n_items_ = len(self.counts_) - 1
