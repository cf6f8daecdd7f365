"""Shared helpers of the embedding models: skip-gram pairs, subsampling, cosine scores."""

from __future__ import annotations

import numpy as np

from recstack.errors import DataError


def flatten(sequences: list[np.ndarray], n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """All sequences end to end: ``(items, sequence_number)``, both ``(N,)`` int64.

    Raises:
        DataError: if no sequence has two items or an id lies outside ``1..n_items``.
    """
    seqs = [np.asarray(s, dtype=np.int64) for s in sequences if len(s) >= 2]
    if not seqs:
        raise DataError("no sequence has two or more items: there is nothing to learn from",
                        field="sequences", fix="pass sessions with at least two views")
    flat = np.concatenate(seqs)
    if flat.min() < 1 or flat.max() > n_items:
        raise DataError(f"item ids must lie in 1..{n_items}", field="sequences",
                        fix="encode items with the dataset's vocabulary (0 is padding)")
    return flat, np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec's (and gensim's) chance of keeping a token, per item id; 1 when ``sample=0``."""
    if sample <= 0:
        return np.ones(len(counts))
    threshold = sample * counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
    return np.nan_to_num(np.minimum(keep, 1.0), nan=1.0)


def skipgram_pairs(flat: np.ndarray, seq_id: np.ndarray, window: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(center, context) pairs within a randomly shrunk window, both directions, as word2vec.

    Each center draws its window ``b`` in ``1..window``, so near neighbours count more often.
    """
    reach = rng.integers(1, window + 1, size=len(flat))  # (N,)
    centers, contexts = [], []
    for d in range(1, window + 1):
        same = seq_id[:-d] == seq_id[d:]  # pairs that stay inside one sequence
        ahead = same & (reach[:-d] >= d)
        behind = same & (reach[d:] >= d)
        centers += [flat[:-d][ahead], flat[d:][behind]]
        contexts += [flat[d:][ahead], flat[:-d][behind]]
    return np.concatenate(centers), np.concatenate(contexts)


def cosine_scores(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Cosine similarity of each query item to every item: ``(B, n_items + 1)``.

    Args:
        vectors: ``(n_items + 1, D)`` item vectors, row 0 padding; zero rows score 0.
        queries: ``(B,)`` internal item ids.
    """
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return unit[np.asarray(queries, dtype=np.int64)] @ unit.T  # (B, I + 1)
