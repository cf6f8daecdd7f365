"""Item-kNN over sequential co-occurrence ("people who clicked this next clicked …").

Similarity between items i and j counts how often j follows i within ``window`` positions in a
training sequence, each pair weighted 1/distance, then normalised as an asymmetric cosine
``C[i, j] / (n_i ** alpha * n_j ** (1 - alpha))`` (Aiolli, 2013). A user is scored from the last
``n_recent`` items of the history with weights ``decay ** age``, so recent clicks count most;
``window=1, n_recent=1`` is a first-order Markov chain. A tiny popularity term breaks ties so
items without co-occurrence still rank sensibly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import scipy.sparse as sp

from recstack.errors import ConfigError
from recstack.sequential.base import FitContext, Recommender, register_model


@dataclass
class ItemKNNConfig:
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
        seqs = [np.asarray(s, dtype=np.int64) for s in sequences if len(s) > 0]
        flat = np.concatenate(seqs) if seqs else np.zeros(0, dtype=np.int64)
        seq_id = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])
        rows, cols, vals = [], [], []
        for d in range(1, cfg.window + 1):
            same = seq_id[:-d] == seq_id[d:]  # pairs that do not cross a sequence boundary
            src, dst = flat[:-d][same], flat[d:][same]
            rows.append(src)
            cols.append(dst)
            vals.append(np.full(len(src), 1.0 / d, dtype=np.float32))
            if not cfg.directed:
                rows.append(dst)
                cols.append(src)
                vals.append(np.full(len(src), 1.0 / d, dtype=np.float32))
        shape = (n_items + 1, n_items + 1)
        co = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                           shape=shape).tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        counts = np.bincount(flat, minlength=n_items + 1).astype(np.float64)
        norm_src = np.power(np.maximum(counts, 1.0), cfg.alpha)
        norm_dst = np.power(np.maximum(counts, 1.0), 1.0 - cfg.alpha)
        sim = sp.diags(1.0 / norm_src) @ co @ sp.diags(1.0 / norm_dst)
        self.similarity_ = _keep_top_per_row(sim.tocsr(), cfg.n_neighbours).astype(np.float32)
        pop = counts / max(counts.max(), 1.0)
        pop[0] = 0.0
        self.popularity_ = pop.astype(np.float32)
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


def _keep_top_per_row(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Zero all but the ``n`` largest entries of each row."""
    matrix = matrix.tocsr()
    indptr, data = matrix.indptr, matrix.data
    keep = np.ones(len(data), dtype=bool)
    for r in np.flatnonzero(np.diff(indptr) > n):  # only rows that are too long
        start, end = indptr[r], indptr[r + 1]
        drop = np.argpartition(data[start:end], end - start - n)[: end - start - n]
        keep[start + drop] = False
    matrix.data = np.where(keep, data, 0.0)
    matrix.eliminate_zeros()
    return matrix
