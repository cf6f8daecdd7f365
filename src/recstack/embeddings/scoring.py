"""Choose Meta-Prod2Vec's scoring (β, γ, n0, η) on validation views, by a stated rule.

The four scoring knobs of ``MetaProd2VecConfig`` change no trained weight, so one fit can be
scored under every point of a grid. The logit blocks ``in[q]·out[c]``, ``in[q]·out[M(c)]``,
``in[M(q)]·out[c]`` and ``in[M(q)]·out[M(c)]`` are computed once per n0 (the only knob that
changes the vectors); β, γ and η then recombine them, which makes a few hundred points cost
seconds. Rules:

- ``overall``: the best validation NDCG@10 (ties: cold NDCG@10).
- ``balanced``: the largest ``min`` over HR@10, NDCG@10, cold HR@10 and cold NDCG@10 of the
  ratio to the best reference model on that metric (item-kNN and Prod2Vec in the pipeline):
  the point that beats the baselines by the widest margin on all four at once.

Ranking follows ``evaluate_next_view``: full ranking, query item excluded, ties against the
model. References are scored on the same rows by the same code.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from recstack.embeddings.evaluation import ItemToItemModel
from recstack.errors import ConfigError
from recstack.evaluation import hit_rate, ndcg, target_ranks

if TYPE_CHECKING:
    from recstack.embeddings.meta_prod2vec import MetaProd2Vec
    from recstack.embeddings.sessions import CoViewSplit

RULES = ("overall", "balanced")
METRICS = ("hr_at_10", "ndcg_at_10", "cold_hr_at_10", "cold_ndcg_at_10")


@dataclass(frozen=True)
class ScoringPoint:
    score_meta_query: float  # β
    score_meta_candidate: float  # γ
    score_shrink: float  # n0
    score_popularity: float  # η

    def describe(self) -> str:
        return (f"beta {self.score_meta_query:g}, gamma {self.score_meta_candidate:g}, "
                f"n0 {self.score_shrink:g}, eta {self.score_popularity:g}")


@dataclass(frozen=True)
class ScoringGrid:
    betas: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0)
    gammas: tuple[float, ...] = (0.0, 2.0, 4.0, 8.0, 16.0)
    shrinks: tuple[float, ...] = (0.0, 3.0, 10.0, 30.0)
    # η < 0 (favour rare items) was never chosen on the travel or ML-1M-T2 validation views
    popularities: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6)

    def points(self) -> list[ScoringPoint]:
        return [ScoringPoint(b, g, n0, eta) for n0, b, g, eta in itertools.product(
            self.shrinks, self.betas, self.gammas, self.popularities)]


@dataclass
class ScoringSelection:
    rule: str
    chosen: ScoringPoint
    chosen_metrics: dict[str, float]
    references: dict[str, dict[str, float]]  # reference model -> validation metrics
    grid: list[dict[str, float]] = field(default_factory=list)  # every point with its metrics
    # metrics on which the chosen point does not beat the best reference (empty: it beats
    # them on all four; on dense data such as ML-1M-T2 no point does, and the user should know)
    behind_references: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "chosen": asdict(self.chosen),
                "chosen_metrics": self.chosen_metrics, "references": self.references,
                "behind_references": self.behind_references, "grid": self.grid}


class _RowMetrics:
    """HR@10 / NDCG@10 overall and on cold targets for a (rows, items) score matrix."""

    def __init__(self, queries: np.ndarray, targets: np.ndarray, cold: np.ndarray):
        self.queries, self.targets, self.cold = queries, targets, cold
        self.rows = np.arange(len(queries))

    def __call__(self, scores: np.ndarray) -> dict[str, float]:
        scores[:, 0] = -np.inf  # padding
        scores[self.rows, self.queries] = -np.inf  # the query item is never recommended
        ranks = target_ranks(scores, self.targets)  # pessimistic, as evaluate_next_view
        out = {"hr_at_10": hit_rate(ranks, 10), "ndcg_at_10": ndcg(ranks, 10)}
        cold = ranks[self.cold]
        out["cold_hr_at_10"] = hit_rate(cold, 10) if len(cold) else float("nan")
        out["cold_ndcg_at_10"] = ndcg(cold, 10) if len(cold) else float("nan")
        return out


def select_scoring(model: MetaProd2Vec, split: CoViewSplit, *, rule: str = "balanced",
                   references: dict[str, ItemToItemModel] | None = None,
                   grid: ScoringGrid | None = None, cold_max_count: int = 5,
                   max_rows: int = 0, random_state: int = 0,
                   apply: bool = True) -> ScoringSelection:
    """Score every grid point on the validation views and pick one by ``rule``.

    ``references`` are fitted baselines (``similarity(items)``) scored on the same rows; the
    ``balanced`` rule needs at least one. ``max_rows`` > 0 scores a fixed random subset of
    the validation rows (faster on large data). ``apply`` sets the chosen point on ``model``.
    """
    if rule not in RULES:
        raise ConfigError(f"unknown scoring rule {rule!r}", field="rule",
                          fix=f"use one of: {', '.join(RULES)}")
    if rule == "balanced" and not references:
        raise ConfigError("the balanced rule compares with reference models, none given",
                          field="references", fix="pass fitted item-kNN / Prod2Vec models, "
                          "or use rule='overall'")
    if not hasattr(model, "model_"):
        raise ConfigError("the model is not fitted", field="model", fix="call fit() first")
    rows = split.valid
    queries = np.array([h[-1] for h in rows.histories], dtype=np.int64)
    targets = np.asarray(rows.targets, dtype=np.int64)
    if len(queries) == 0:
        raise ConfigError("no validation views to choose the scoring on", field="valid",
                          fix="use sequences of three or more views")
    if max_rows and len(queries) > max_rows:
        keep = np.sort(np.random.default_rng(random_state).choice(
            len(queries), max_rows, replace=False))
        queries, targets = queries[keep], targets[keep]
    metrics = _RowMetrics(queries, targets, split.item_counts[targets] <= cold_max_count)
    reference_metrics = {name: metrics(np.asarray(ref.similarity(queries), dtype=np.float64))
                         for name, ref in (references or {}).items()}
    grid = grid or ScoringGrid()
    results: list[tuple[ScoringPoint, dict[str, float]]] = []
    for n0 in grid.shrinks:
        blocks = model.scoring_blocks(shrink=n0)
        q_in, q_meta = blocks.items_in[queries], blocks.meta_in[queries]  # (R, D)
        # known only by metadata: the query side keeps its metadata vector whatever β
        q_forced = blocks.known_by_metadata[queries]
        ii, im = q_in @ blocks.items_out.T, q_in @ blocks.meta_out.T  # (R, I + 1)
        mi, mm = q_meta @ blocks.items_out.T, q_meta @ blocks.meta_out.T  # (R, I + 1)
        terms = model.config.score_terms
        weights = {t: float(getattr(model.config, f"weight_{t}") > 0 and t in terms)
                   for t in ("ii", "im", "mi", "mm")}
        # float32: a few hundred recombinations of (R, I + 1) blocks dominate the time
        ii, im, mi, mm = (np.float32(weights[t]) * block.astype(np.float32) for t, block in
                          (("ii", ii), ("im", im), ("mi", mi), ("mm", mm)))
        log_counts = blocks.log_counts.astype(np.float32)[None, :]
        for beta, gamma, eta in itertools.product(grid.betas, grid.gammas, grid.popularities):
            b = np.where(q_forced, 1.0, beta).astype(np.float32)[:, None]  # (R, 1)
            g = (gamma * blocks.gamma).astype(np.float32)[None, :]  # (1, I + 1)
            scores = ii + b * mi + g * (im + b * mm) + np.float32(eta) * log_counts
            results.append((ScoringPoint(beta, gamma, n0, eta), metrics(scores)))
    chosen, chosen_metrics = _pick(results, rule, reference_metrics)
    if apply:
        model.set_scoring(**asdict(chosen))
    best = _best_reference(reference_metrics)
    behind = [k for k in best if not chosen_metrics[k] > best[k]]
    return ScoringSelection(rule, chosen, chosen_metrics, reference_metrics,
                            [{**asdict(p), **m} for p, m in results], behind)


def _best_reference(references: dict[str, dict[str, float]]) -> dict[str, float]:
    """The best reference value per metric, for the metrics that can rank points."""
    if not references:
        return {}
    best = {k: max(m[k] for m in references.values()) for k in METRICS}
    # metrics with no cold rows (NaN) or a zero reference cannot rank the points
    return {k: v for k, v in best.items() if np.isfinite(v) and v > 0}


def _pick(results: list[tuple[ScoringPoint, dict[str, float]]], rule: str,
          references: dict[str, dict[str, float]]
          ) -> tuple[ScoringPoint, dict[str, float]]:
    if rule == "overall":
        return max(results, key=lambda r: (r[1]["ndcg_at_10"],
                                           np.nan_to_num(r[1]["cold_ndcg_at_10"])))
    best = _best_reference(references)

    def margin(metrics: dict[str, float]) -> tuple[float, float]:
        ratios = [metrics[k] / best[k] for k in best]
        return (min(ratios), metrics["ndcg_at_10"])
    return max(results, key=lambda r: margin(r[1]))
