"""Performance once labels arrive, per time window, for the three kinds of recstack model.

A metric is a pure function of a task frame (columns below) plus metadata, kept in a small
registry so that reports and alert rules can name it.

Task frames: ``regression`` — ``prediction``, ``label``, optional ``lower``/``upper``;
``classification`` — ``prediction`` (class), ``label``; ``ranking`` — ``items`` (list of item ids,
best first) and ``label`` (the item clicked or bought).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from recstack.errors import ConfigError, DataError
from recstack.evaluation.metrics import hit_rate, ndcg
from recstack.plugins import PluginTable

TASKS = ("regression", "classification", "ranking")


@dataclass(frozen=True)
class PerformanceMetric:
    """A named metric of one task; ``higher_is_better`` tells alert rules which way is bad."""

    name: str
    task: str
    func: Callable[[pd.DataFrame], float]
    higher_is_better: bool


_METRICS: PluginTable[PerformanceMetric] = PluginTable("performance metric", field="metric")


def register_metric(name: str, task: str, *, higher_is_better: bool
                    ) -> Callable[[Callable[[pd.DataFrame], float]],
                                  Callable[[pd.DataFrame], float]]:
    """Decorator: add a metric of ``task`` under ``name``."""
    def wrap(func: Callable[[pd.DataFrame], float]) -> Callable[[pd.DataFrame], float]:
        _METRICS.add(name, PerformanceMetric(name, task, func, higher_is_better))
        return func
    return wrap


def get_metric(name: str) -> PerformanceMetric:
    return _METRICS.get(name)


def metrics_for(task: str) -> list[PerformanceMetric]:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}", field="task", fix=f"use one of: {TASKS}")
    return [m for m in _METRICS.as_dict().values() if m.task == task]


@register_metric("mae", "regression", higher_is_better=False)
def mae(frame: pd.DataFrame) -> float:
    return float(np.mean(np.abs(frame["label"].astype(float) - frame["prediction"].astype(float))))


@register_metric("rmse", "regression", higher_is_better=False)
def rmse(frame: pd.DataFrame) -> float:
    err = frame["label"].astype(float) - frame["prediction"].astype(float)
    return float(np.sqrt(np.mean(err**2)))


@register_metric("coverage", "regression", higher_is_better=True)
def interval_coverage(frame: pd.DataFrame) -> float:
    """Share of labels inside ``[lower, upper]``; NaN without intervals."""
    if not {"lower", "upper"} <= set(frame.columns):
        return float("nan")
    y = frame["label"].astype(float)
    return float(((y >= frame["lower"].astype(float)) & (y <= frame["upper"].astype(float))).mean())


@register_metric("accuracy", "classification", higher_is_better=True)
def accuracy(frame: pd.DataFrame) -> float:
    return float(accuracy_score(frame["label"].astype(str), frame["prediction"].astype(str)))


@register_metric("f1", "classification", higher_is_better=True)
def f1(frame: pd.DataFrame) -> float:
    """Macro F1 over the classes seen in labels or predictions."""
    return float(f1_score(frame["label"].astype(str), frame["prediction"].astype(str),
                          average="macro", zero_division=0))


def _ranks(frame: pd.DataFrame) -> np.ndarray:
    """0-based position of the label in each served list; len(list) + large when absent."""
    out = np.empty(len(frame))
    for i, (items, label) in enumerate(zip(frame["items"], frame["label"], strict=True)):
        items = list(items)
        out[i] = items.index(label) if label in items else 10**9
    return out


@register_metric("hr_at_10", "ranking", higher_is_better=True)
def hr_at_10(frame: pd.DataFrame) -> float:
    return hit_rate(_ranks(frame), 10)


@register_metric("ndcg_at_10", "ranking", higher_is_better=True)
def ndcg_at_10(frame: pd.DataFrame) -> float:
    return ndcg(_ranks(frame), 10)


def task_frame(log: pd.DataFrame, task: str) -> pd.DataFrame:
    """Map a :func:`prediction_frame` (with labels) to the task frame its metrics read.

    Outputs may be a bare value (regression, classification) or a dict with ``prediction``,
    ``lower``, ``upper`` (regression), ``prediction`` or ``label`` (classification), ``items``
    (ranking: ids, or dicts with ``item_id``).
    """
    metrics_for(task)
    out = pd.DataFrame({"time": log["time"], "label": log.get("label")}, index=log.index)
    if task == "ranking":
        if "output_items" not in log:
            raise DataError("ranking outputs need an 'items' list", field="output.items",
                            fix="log outputs as {'items': [...], 'scores': [...]}")
        out["items"] = [[i["item_id"] if isinstance(i, dict) else i for i in items]
                        for items in log["output_items"]]
        return out
    if "output_prediction" in log:
        out["prediction"] = log["output_prediction"]
    elif task == "classification" and "output_label" in log:
        out["prediction"] = log["output_label"]
    else:
        out["prediction"] = log["output"]
    for bound in ("lower", "upper"):
        if f"output_{bound}" in log:
            out[bound] = log[f"output_{bound}"]
    return out


def performance_by_window(frame: pd.DataFrame, task: str, *, freq: str = "1D",
                          metrics: list[str] | None = None) -> pd.DataFrame:
    """Metrics per time window over labelled rows: ``window, n_labelled, <metric>…``.

    Windows without labels are omitted (an empty window has no performance); rows whose label
    has not arrived are ignored.
    """
    chosen = [get_metric(m) for m in metrics] if metrics else metrics_for(task)
    labelled = frame[frame["label"].notna()]
    rows = []
    for window, group in labelled.groupby(labelled["time"].dt.floor(freq)):
        if group.empty:
            continue
        rows.append({"window": window, "n_labelled": len(group),
                     **{m.name: m.func(group) for m in chosen}})
    return pd.DataFrame(rows, columns=["window", "n_labelled", *[m.name for m in chosen]])
