"""Offline next-item evaluation of any scorer against an :class:`~recstack.data.splits.EvalSet`.

Full-catalogue ranking is the headline protocol: every row's target is ranked against all items
(seen items excluded by default), with ties counted against the model. Sampled metrics, which rank
the target among a few random negatives and run about three times higher on MovieLens, are only
reported beside the full-ranking ones and carry a ``sampled{n}_`` prefix so they cannot be mistaken
for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from recstack.data.splits import EvalSet
from recstack.errors import ConfigError, DataError
from recstack.evaluation import metrics as m
from recstack.evaluation.ranking import mask_items, target_ranks, top_k

ScoreFn = Callable[[list[np.ndarray]], np.ndarray]
"""Maps a batch of histories to ``(B, n_items + 1)`` scores (column 0 is padding)."""

# Random keys used to draw sampled negatives are made this many floats at a time at most (64 MiB).
_KEY_BUDGET = 1 << 23


@dataclass
class EvaluationResult:
    """Metrics of one evaluation run.

    Attributes:
        metrics: MLflow-safe names (``ndcg_at_10``, ``sampled100_hr_at_10``, ...) to values.
        n_rows: number of evaluated (history, target) rows.
        protocol: how the numbers were obtained; report it with every figure.
        ks: the cut-offs, ascending.
    """

    metrics: dict[str, float]
    n_rows: int
    protocol: str
    ks: tuple[int, ...]

    def table(self) -> Table:
        """The metrics as a rich table: one row per metric, one column per cut-off."""
        suffixes = [f"_at_{k}" for k in self.ks]
        grid: dict[str, dict[str, float]] = {}
        for name, value in self.metrics.items():
            column = next((s for s in suffixes if name.endswith(s)), "")
            grid.setdefault(name.removesuffix(column) if column else name, {})[column] = value
        table = Table(title=f"{self.n_rows} rows: {self.protocol}",
                      caption="sampled* rows rank the target among random negatives only; "
                              "they are not comparable with full-ranking figures.")
        table.add_column("metric")
        for k in self.ks:
            table.add_column(f"@{k}", justify="right")
        table.add_column("no cut-off", justify="right")
        for base, row in grid.items():
            cells = [row.get(s) for s in [*suffixes, ""]]
            table.add_row(base, *("" if v is None else f"{v:.4f}" for v in cells))
        return table


def evaluate_scores(score_fn: ScoreFn, eval_set: EvalSet, n_items: int, *,
                    item_counts: np.ndarray, ks: Iterable[int] = (10, 20),
                    exclude_seen: bool = True, sampled_negatives: int | None = 100,
                    batch_size: int = 512, seed: int = 0,
                    progress: bool = True) -> EvaluationResult:
    """Rank each row's target among the whole catalogue and summarise.

    Per cut-off ``k``: ``hr_at_k``, ``recall_at_k`` (identical to HR with one target per row; both
    names are kept because papers report either), ``ndcg_at_k``, ``coverage_at_k`` (share of the
    catalogue recommended to anyone), ``popularity_percentile_at_k`` and ``arp_at_k`` (popularity
    bias of the top-k lists); plus ``mrr`` without cut-off. With ``sampled_negatives = n``, also
    ``sampled{n}_hr_at_k`` and ``sampled{n}_ndcg_at_k``: the target ranked among ``n`` negatives
    drawn uniformly without replacement from the items outside the history and other than the
    target (all of them when fewer remain). Ranks are pessimistic (see
    :func:`~recstack.evaluation.ranking.target_ranks`) in both protocols.

    Args:
        score_fn: maps a list of ``B`` histories to ``(B, n_items + 1)`` scores.
        eval_set: the rows to evaluate.
        n_items: catalogue size; item ids are ``1..n_items``.
        item_counts: ``(n_items + 1,)`` training interaction count per item id (see
            :func:`~recstack.evaluation.metrics.count_items`).
        ks: cut-offs.
        exclude_seen: mask the items of each history (except the target) before ranking.
        sampled_negatives: negatives per row for the sampled metrics; 0 or None skips them.
        batch_size: rows scored at once; bounds memory at about ``batch_size * n_items`` floats.
        seed: seed of the negative sampler; results do not depend on ``batch_size``.
        progress: show a progress bar (on stderr) when there is more than one batch.

    Returns:
        The metrics, the number of rows, the protocol description and the cut-offs.

    Raises:
        DataError: for an empty eval set, targets outside ``1..n_items``, ``item_counts`` of the
            wrong shape, or ``score_fn`` returning the wrong shape or NaN.
        ConfigError: for invalid ``ks``, ``batch_size`` or ``sampled_negatives``.
    """
    ks_sorted = _check_inputs(eval_set, n_items, item_counts, ks, batch_size, sampled_negatives)
    targets = np.asarray(eval_set.targets, dtype=np.int64)  # (R,)
    rng = np.random.default_rng(seed)
    ranks, topk, sampled = [], [], []
    starts = range(0, len(targets), batch_size)
    batches: Iterable[int] = starts
    if progress and len(starts) > 1:
        batches = track(starts, description="evaluating", console=Console(stderr=True),
                        transient=True)
    for start in batches:
        hist = eval_set.histories[start:start + batch_size]
        tgt = targets[start:start + batch_size]  # (B,)
        scores = _score_batch(score_fn, hist, tgt, n_items, exclude_seen)  # (B, I + 1)
        ranks.append(target_ranks(scores, tgt))
        items, item_scores = top_k(scores, ks_sorted[-1])  # (B, K)
        topk.append(np.where(item_scores > -np.inf, items, 0))  # masked slots dropped
        if sampled_negatives:
            sampled.append(_sampled_ranks(scores, hist, tgt, sampled_negatives, rng))
    metrics = _full_ranking_metrics(np.concatenate(ranks), np.concatenate(topk), ks_sorted,
                                    n_items, np.asarray(item_counts))
    if sampled_negatives:
        all_sampled = np.concatenate(sampled)  # (R,)
        for k in ks_sorted:
            metrics[f"sampled{sampled_negatives}_hr_at_{k}"] = m.hit_rate(all_sampled, k)
            metrics[f"sampled{sampled_negatives}_ndcg_at_{k}"] = m.ndcg(all_sampled, k)
    return EvaluationResult(metrics=metrics, n_rows=len(targets), ks=ks_sorted,
                            protocol=_describe(n_items, exclude_seen, sampled_negatives, seed))


def _check_inputs(eval_set: EvalSet, n_items: int, item_counts: np.ndarray, ks: Iterable[int],
                  batch_size: int, sampled_negatives: int | None) -> tuple[int, ...]:
    """Validate the arguments of :func:`evaluate_scores`; return the sorted, unique cut-offs."""
    if len(eval_set) == 0:
        raise DataError("the evaluation set has no rows", field="eval_set",
                        fix="check the split: no user had a held-out item")
    if len(eval_set.histories) != len(eval_set.targets):
        raise DataError(f"{len(eval_set.histories)} histories for {len(eval_set.targets)} "
                        "targets", field="histories", fix="build the EvalSet with one per row")
    targets = np.asarray(eval_set.targets)
    if targets.min() < 1 or targets.max() > n_items:
        raise DataError(f"targets must be internal item ids in 1..{n_items}", field="targets",
                        fix="map raw item ids with the dataset's vocabulary; 0 is padding")
    if np.shape(item_counts) != (n_items + 1,):
        raise DataError(f"item_counts has shape {np.shape(item_counts)}, expected "
                        f"({n_items + 1},)", field="item_counts",
                        fix="use count_items(split.train, n_items): one count per id, 0 first")
    ks_sorted = tuple(sorted({int(k) for k in ks}))
    if not ks_sorted or ks_sorted[0] < 1:
        raise ConfigError("cut-offs must be positive integers", field="ks", fix="e.g. (10, 20)")
    if batch_size < 1:
        raise ConfigError("batch_size must be at least 1", field="batch_size", fix="e.g. 512")
    if sampled_negatives is not None and sampled_negatives < 0:
        raise ConfigError("sampled_negatives cannot be negative", field="sampled_negatives",
                          fix="use 100, or 0 to skip the sampled metrics")
    return ks_sorted


def _score_batch(score_fn: ScoreFn, histories: Sequence[np.ndarray], targets: np.ndarray,
                 n_items: int, exclude_seen: bool) -> np.ndarray:
    """Score one batch, check the output and mask it for full ranking: ``(B, n_items + 1)``."""
    raw = score_fn(list(histories))
    expected = (len(targets), n_items + 1)
    if np.shape(raw) != expected:
        raise DataError(f"score_fn returned shape {np.shape(raw)}, expected {expected}",
                        field="score_fn", fix="return one score per item id, padding column 0 "
                                              "included, for each history")
    scores = np.array(raw, dtype=np.float32)  # (B, I + 1), a copy: masking must not touch raw
    if np.isnan(scores).any():
        raise DataError("score_fn returned NaN scores", field="score_fn",
                        fix="check the model for diverged weights or invalid inputs")
    if exclude_seen:
        mask_items(scores, histories, keep=targets)
    else:
        scores[:, 0] = -np.inf
    return scores


def _sample_negatives(rng: np.random.Generator, histories: Sequence[np.ndarray],
                      targets: np.ndarray, n_items: int, n: int) -> np.ndarray:
    """Uniform negatives without replacement outside each history and target: ``(B, n')``.

    Each row draws one uniform key per column and keeps the ``n`` allowed columns with the largest
    keys, which is a uniform random subset. Rows consume the generator in order, one
    ``n_items + 1`` block each, so the draw does not depend on how rows are batched. Slots left
    over when fewer than ``n`` items are allowed hold 0; ``n' = min(n, n_items + 1)``.
    """
    chunk = max(1, _KEY_BUDGET // (n_items + 1))
    out = []
    for start in range(0, len(targets), chunk):
        hist, tgt = histories[start:start + chunk], targets[start:start + chunk]
        keys = rng.random((len(tgt), n_items + 1))  # (C, I + 1)
        mask_items(keys, hist)
        keys[np.arange(len(tgt)), tgt] = -np.inf
        items, item_keys = top_k(keys, n)  # (C, n')
        out.append(np.where(item_keys > -np.inf, items, 0))
    return np.concatenate(out)


def _sampled_ranks(scores: np.ndarray, histories: Sequence[np.ndarray], targets: np.ndarray,
                   n: int, rng: np.random.Generator) -> np.ndarray:
    """Pessimistic 0-based rank of each target among itself and its sampled negatives: ``(B,)``."""
    negatives = _sample_negatives(rng, histories, targets, scores.shape[1] - 1, n)  # (B, n')
    target_scores = scores[np.arange(len(targets)), targets]  # (B,)
    negative_scores = np.take_along_axis(scores, negatives, axis=1)  # (B, n')
    # Same rule as target_ranks: a negative counts as ahead unless strictly below the target.
    ahead = (negatives > 0) & ~(negative_scores < target_scores[:, None])  # (B, n')
    return ahead.sum(axis=1).astype(np.int64)


def _full_ranking_metrics(ranks: np.ndarray, topk: np.ndarray, ks: tuple[int, ...],
                          n_items: int, item_counts: np.ndarray) -> dict[str, float]:
    """Full-ranking metric dict from all ranks ``(R,)`` and top-max(ks) lists ``(R, K)``."""
    out: dict[str, float] = {}
    for k in ks:
        out[f"hr_at_{k}"] = m.hit_rate(ranks, k)
        out[f"recall_at_{k}"] = out[f"hr_at_{k}"]  # one target per row
        out[f"ndcg_at_{k}"] = m.ndcg(ranks, k)
    out["mrr"] = m.mrr(ranks)
    for k in ks:
        out[f"coverage_at_{k}"] = m.catalogue_coverage(topk[:, :k], n_items)
        out[f"popularity_percentile_at_{k}"] = m.popularity_percentile(topk[:, :k], item_counts)
        out[f"arp_at_{k}"] = m.average_recommendation_popularity(topk[:, :k], item_counts)
    return out


def _describe(n_items: int, exclude_seen: bool, sampled_negatives: int | None, seed: int) -> str:
    """One-line protocol statement to report next to the numbers."""
    seen = "seen items excluded" if exclude_seen else "seen items ranked"
    text = f"full ranking over {n_items} items, {seen}, ties count against the model"
    if sampled_negatives:
        text += (f"; sampled{sampled_negatives}_* rank the target among {sampled_negatives} "
                 f"uniform unseen negatives (seed {seed})")
    return text
