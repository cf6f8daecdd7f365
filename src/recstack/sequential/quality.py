"""Quality bands: one model, one seed, a fixed budget, full-ranking NDCG@10 on the test item.

``benchmarks/sequential_bands.py`` runs every model of the zoo over several seeds on a frozen
ML-100K split and writes the band each must stay in; ``tests/sequential/test_quality_bands.py``
runs one seed of each and fails when a model leaves its band. Both call :func:`test_ndcg`, so
the test measures exactly what the bands were derived from. No validation pass runs during
training (a fixed budget, no early stopping), so the test item never selects anything.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np

from recstack.data.splits import Split
from recstack.evaluation import count_items, evaluate_scores
from recstack.sequential.base import FitContext, model_class

__all__ = ["split_fingerprint", "test_ndcg"]


def split_fingerprint(split: Split) -> str:
    """A short hash of the split's training sequences and validation and test rows.

    The bands hold for one split only; a changed loader or split rule changes the hash, so the
    regression test says "regenerate the bands" instead of reporting a drop that is not one.
    """
    digest = hashlib.sha256(f"{split.n_items}|{len(split.train)}".encode())
    for sequence in split.train:
        digest.update(np.asarray(sequence, dtype=np.int64).tobytes())
        digest.update(b"|")
    for rows in (split.valid, split.test):
        digest.update(np.asarray(rows.targets, dtype=np.int64).tobytes())
        for history in rows.histories:
            digest.update(np.asarray(history, dtype=np.int64).tobytes())
            digest.update(b"|")
    return digest.hexdigest()[:16]


def test_ndcg(name: str, params: dict[str, Any], seed: int, split: Split,
              ) -> tuple[float, float]:
    """Train ``name`` with ``params`` and ``seed``; return (test NDCG@10, fit seconds).

    Full ranking over the whole catalogue, the user's seen items excluded, ties counted
    against the model (``recstack.evaluation``).
    """
    cls = model_class(name)
    params = {**params, "seed": seed} if hasattr(cls.Config(), "training") else params
    model = cls.from_params(params)
    started = time.perf_counter()
    model.fit(split.train, split.n_items,
              FitContext(item_metadata=split.dataset.item_metadata, progress=False))
    seconds = time.perf_counter() - started
    metrics = evaluate_scores(model.score, split.test, split.n_items,
                              item_counts=count_items(split.train, split.n_items), ks=(10,),
                              sampled_negatives=None, progress=False).metrics
    return float(metrics["ndcg_at_10"]), seconds


test_ndcg.__test__ = False  # type: ignore[attr-defined]  # a library function, not a pytest test
