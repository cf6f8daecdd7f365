"""Item-kNN over sequential co-occurrence ("people who clicked this next clicked …").

Similarity between items i and j counts how often j follows i within ``window`` positions in a
training sequence, each pair weighted 1/distance, then normalised as an asymmetric cosine
``C[i, j] / (n_i ** alpha * n_j ** (1 - alpha))`` (Aiolli, 2013); the counting lives in
:mod:`recstack.data.cooccurrence`, shared with the embeddings' co-view baseline. A user is
scored from the last ``n_recent`` items of the history with weights ``decay ** age``, so recent
clicks count most; ``window=1, n_recent=1`` is a first-order Markov chain. A tiny popularity
term breaks ties so items without co-occurrence still rank sensibly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import scipy.sparse as sp

from recstack.data.cooccurrence import cooccurrence
from recstack.errors import ConfigError
from recstack.sequential.base import FitContext, Recommender, register_model


@dataclass
class ItemKNNConfig:
    """Next-item kNN: directed by default ("j after i") and scored from a decayed history.

    Not to be confused with :class:`recstack.embeddings.itemknn.CoViewItemKNNConfig`, the
    embeddings' "viewed together" baseline, which counts both orders (``directed=False``) and
    queries one item, so it has no ``n_recent``, ``decay`` or ``popularity_weight``.
    """

    window: int = 3  # how far ahead a later click still counts as co-occurring
    directed: bool = True  # only "j after i"; False also counts "j before i"
    alpha: float = 0.5  # 0.5 = cosine; higher penalises popular source items more
    n_neighbours: int = 200  # keep the strongest neighbours per item (memory, noise)
    n_recent: int = 10  # history items used to score
    decay: float = 0.6  # weight of a history item per step back in time
    popularity_weight: float = 1e-6  # tie-breaker towards popular items

    def __post_init__(self) -> None:
        for name in ("window", "n_neighbours", "n_recent"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1", field=name, fix=f"set {name}>=1")
        if not 0 < self.decay <= 1:
            raise ConfigError("decay must be in (0, 1]", field="decay", fix="for example 0.6")


@register_model("itemknn")
class ItemKNNRecommender(Recommender):
    """Sequential item-to-item co-occurrence recommender."""

    Config = ItemKNNConfig
    config: ItemKNNConfig

    def fit(self, sequences: list[np.ndarray], n_items: int,
            context: FitContext | None = None) -> Self:
        cfg = self.config
        co = cooccurrence(sequences, n_items, window=cfg.window, directed=cfg.directed,
                          alpha=cfg.alpha, n_neighbours=cfg.n_neighbours)
        self.similarity_ = co.similarity
        self.popularity_ = co.popularity
        self.n_items_ = n_items
        return self

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        cfg = self.config
        recent = [np.asarray(h, dtype=np.int64)[-cfg.n_recent:] for h in histories]
        lengths = np.array([len(r) for r in recent], dtype=np.int64)  # (B,)
        cols = np.concatenate(recent) if recent else np.zeros(0, dtype=np.int64)  # (N,)
        rows = np.repeat(np.arange(len(histories)), lengths)
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        ages = np.repeat(lengths, lengths) - 1 - (np.arange(len(cols)) - starts)  # 0 = latest
        known = (cols > 0) & (cols <= self.n_items_)
        weights = sp.csr_matrix(
            (np.power(cfg.decay, ages[known]), (rows[known], cols[known])),
            shape=(len(histories), self.n_items_ + 1), dtype=np.float32)  # (B, I+1)
        scores = np.asarray((weights @ self.similarity_).todense(), dtype=np.float32)  # (B, I+1)
        scores += cfg.popularity_weight * self.popularity_
        return scores

    def _save_state(self, directory: Path) -> None:
        sp.save_npz(directory / "similarity.npz", self.similarity_)
        np.save(directory / "popularity.npy", self.popularity_)

    def _load_state(self, directory: Path) -> None:
        self.similarity_ = sp.load_npz(directory / "similarity.npz").tocsr()
        self.popularity_ = np.load(directory / "popularity.npy")
        self.n_items_ = len(self.popularity_) - 1

