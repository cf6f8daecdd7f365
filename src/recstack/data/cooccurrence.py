"""Windowed item co-occurrence in sequences, normalised into an item-to-item similarity.

Shared by the sequential item-kNN recommender (scores a history) and the embeddings' co-view
item-kNN baseline (scores one query item), so both systems count pairs the same way. Items are
internal ids 1..n_items; 0 is padding.

Similarity between items i and j counts how often j follows i within ``window`` positions in a
sequence, each pair weighted 1/distance (``directed=False`` also counts "j before i"), then
normalised as an asymmetric cosine ``C[i, j] / (n_i ** alpha * n_j ** (1 - alpha))``
(Aiolli, 2013), keeping the ``n_neighbours`` strongest entries per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class CoOccurrence:
    """A fitted co-occurrence similarity and the item counts it was normalised with."""

    similarity: sp.csr_matrix  # (I+1, I+1) float32; row i = items that co-occur with i
    counts: np.ndarray  # (I+1,) float64 occurrences of each item in the sequences

    @property
    def popularity(self) -> np.ndarray:
        """Counts scaled to [0, 1] as float32, padding (0) at 0: a tie-breaker term."""
        pop = self.counts / max(self.counts.max(), 1.0)
        pop[0] = 0.0
        return pop.astype(np.float32)


def cooccurrence(sequences: list[np.ndarray], n_items: int, *, window: int, directed: bool,
                 alpha: float, n_neighbours: int) -> CoOccurrence:
    """Count windowed co-occurrences and normalise them into a sparse similarity.

    Args:
        sequences: internal item ids per sequence, oldest first; empty ones are skipped.
        n_items: largest item id; the matrices have ``n_items + 1`` rows and columns.
        window: how far ahead a later item still counts as co-occurring.
        directed: count only "j after i"; False also counts "j before i".
        alpha: 0.5 = cosine; higher penalises popular source items more.
        n_neighbours: strongest entries kept per row (memory, noise).
    """
    seqs = [np.asarray(s, dtype=np.int64) for s in sequences if len(s) > 0]
    flat = np.concatenate(seqs) if seqs else np.zeros(0, dtype=np.int64)
    seq_id = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])
    rows, cols, vals = [], [], []
    for d in range(1, window + 1):
        same = seq_id[:-d] == seq_id[d:]  # pairs that do not cross a sequence boundary
        src, dst = flat[:-d][same], flat[d:][same]
        rows.append(src)
        cols.append(dst)
        vals.append(np.full(len(src), 1.0 / d, dtype=np.float32))
        if not directed:
            rows.append(dst)
            cols.append(src)
            vals.append(np.full(len(src), 1.0 / d, dtype=np.float32))
    shape = (n_items + 1, n_items + 1)
    co = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                       shape=shape).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    counts = np.bincount(flat, minlength=n_items + 1).astype(np.float64)
    norm_src = np.power(np.maximum(counts, 1.0), alpha)
    norm_dst = np.power(np.maximum(counts, 1.0), 1.0 - alpha)
    sim = sp.diags(1.0 / norm_src) @ co @ sp.diags(1.0 / norm_dst)
    similarity = keep_top_per_row(sim.tocsr(), n_neighbours).astype(np.float32)
    return CoOccurrence(similarity=similarity, counts=counts)


def keep_top_per_row(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
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
