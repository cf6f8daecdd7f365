"""Data and prediction drift against a reference frame, per column and multivariate.

Default method per column, as Evidently chooses it (stated in docs/monitoring.md):

* reference of at most 1000 rows — numerical with > 5 distinct values: Kolmogorov–Smirnov;
  ≤ 5 distinct values or categorical: chi² (two values: z-test); p-value < 0.05 is drift;
* larger reference — numerical with > 5 distinct values: Wasserstein distance normed by the
  reference std, ≥ 0.1 is drift; otherwise Jensen–Shannon distance, ≥ 0.1 is drift.

The dataset drifts when at least ``drift_share`` of the columns drift.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from recstack.errors import ConfigError, DataError
from recstack.monitoring.drift_methods import ColumnSample, Kind, get_drift_method

logger = logging.getLogger(__name__)
T = TypeVar("T")
DRIFT_COLUMNS = ["column", "kind", "method", "score", "threshold", "drifted", "n_reference",
                 "n_current", "n_missing_current"]


def column_kind(series: pd.Series) -> Kind:
    """Numbers (not bool) are numerical; anything else is categorical."""
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return "categorical"
    return "numerical"


def default_method(ref: ColumnSample, cur: ColumnSample) -> str:
    """Evidently's rule by reference size, column kind and distinct values."""
    few = ref.n_unique + cur.n_unique <= 5 or (
        ref.n_unique <= 5 and cur.n_unique <= 5
        and len(set(ref.keys.tolist()) | set(cur.keys.tolist())) <= 5)
    if ref.n <= 1000:
        if ref.kind == "numerical" and not few:
            return "ks"
        n_values = len(set(ref.keys.tolist()) | set(cur.keys.tolist()))
        return "chisquare" if n_values > 2 else "z"
    if ref.kind == "numerical" and not few:
        return "wasserstein"
    return "jensenshannon"


@dataclass
class DriftReport:
    """Per-column results and the dataset verdict."""

    columns: pd.DataFrame
    drift_share: float
    share_drifted: float
    dataset_drift: bool
    skipped: dict[str, str] = field(default_factory=dict)
    multivariate: dict[str, float] = field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[str]:
        return self.columns.loc[self.columns["drifted"], "column"].tolist()

    def metrics(self, prefix: str = "drift") -> dict[str, float]:
        """Flat ``{name: value}`` for alert rules: share, and score per column."""
        out = {f"{prefix}.share_drifted": self.share_drifted,
               f"{prefix}.dataset_drift": float(self.dataset_drift)}
        for column, score, drifted in zip(self.columns["column"], self.columns["score"],
                                          self.columns["drifted"], strict=True):
            out[f"{prefix}.{column}.score"] = float(score)
            out[f"{prefix}.{column}.drifted"] = float(drifted)
        out.update({f"{prefix}.{k}": v for k, v in self.multivariate.items()})
        return out


class DriftDetector(BaseEstimator):
    """Per-column drift of current data against a reference fitted once.

    Args:
        methods: column → method name, overriding the default rule.
        thresholds: method name → threshold, overriding the method's default.
        categorical: columns to treat as categorical whatever their dtype.
        drift_share: dataset drift when at least this share of columns drifts.
        n_jobs: threads over columns (NumPy sorts release the GIL).
    """

    def __init__(self, *, methods: dict[str, str] | None = None,
                 thresholds: dict[str, float] | None = None,
                 categorical: list[str] | None = None, drift_share: float = 0.5,
                 n_jobs: int = 1):
        self.methods = methods
        self.thresholds = thresholds
        self.categorical = categorical
        self.drift_share = drift_share
        self.n_jobs = n_jobs

    def fit(self, reference: pd.DataFrame) -> DriftDetector:
        """Prepare every reference column (sort, count) once."""
        if reference.empty:
            raise DataError("the reference frame is empty", field="reference",
                            fix="use the training frame (or a sample of it) as reference")
        for name, method in (self.methods or {}).items():
            get_drift_method(method)
            if name not in reference.columns:
                raise ConfigError(f"a method is set for {name!r}, not a reference column",
                                  field=f"methods.{name}",
                                  fix=f"use one of: {', '.join(map(str, reference.columns))}")
        forced = set(self.categorical or [])
        self.kinds_ = {str(c): "categorical" if c in forced else column_kind(reference[c])
                       for c in reference.columns}
        self.reference_ = dict(self._map(
            lambda c: (c, ColumnSample.from_values(reference[c], self.kinds_[c])),
            list(self.kinds_)))
        return self

    def detect(self, current: pd.DataFrame) -> DriftReport:
        """Compare ``current`` with the reference, column by column."""
        check_is_fitted(self, "reference_")
        if current.empty:
            raise DataError("the current window has no rows", field="current",
                            fix="widen the window or wait until predictions are logged")
        common = [c for c in self.reference_ if c in current.columns]
        skipped = {str(c): "not in the reference" for c in current.columns
                   if c not in self.reference_}
        skipped.update({c: "missing from the current data" for c in self.reference_
                        if c not in current.columns})
        if not common:
            raise DataError("the current data shares no column with the reference",
                            field="columns",
                            fix=f"reference columns: {', '.join(list(self.reference_)[:20])}")
        rows = [r for r in self._map(lambda c: self._column(c, current[c]), common) if r]
        for row in rows:
            if row.get("skip"):
                skipped[row["column"]] = row["skip"]
        table = pd.DataFrame([r for r in rows if not r.get("skip")], columns=DRIFT_COLUMNS)
        share = float(table["drifted"].mean()) if len(table) else 0.0
        if skipped:
            logger.info("drift: skipped %s", ", ".join(f"{k} ({v})" for k, v in skipped.items()))
        return DriftReport(table, self.drift_share, share,
                           bool(len(table) and share >= self.drift_share), skipped)

    def _column(self, name: str, values: pd.Series) -> dict[str, Any]:
        ref = self.reference_[name]
        kind = self.kinds_[name]
        try:
            cur = ColumnSample.from_values(values, kind)
        except (TypeError, ValueError):
            return {"column": name, "skip": f"values are not {kind}"}
        if cur.n == 0 or ref.n == 0:
            return {"column": name, "skip": "no non-missing values"}
        method = get_drift_method((self.methods or {}).get(name) or default_method(ref, cur))
        threshold = (self.thresholds or {}).get(method.name, method.default_threshold)
        score = method.func(ref, cur)
        return {"column": name, "kind": kind, "method": method.name, "score": score,
                "threshold": threshold, "drifted": method.is_drift(score, threshold),
                "n_reference": ref.n, "n_current": cur.n, "n_missing_current": cur.n_missing}

    def _map(self, func: Callable[[str], T], items: list[str]) -> list[T]:
        if self.n_jobs == 1 or len(items) < 2:
            return [func(i) for i in items]
        with ThreadPoolExecutor(self.n_jobs) as pool:
            return list(pool.map(func, items))


def prediction_drift(reference: pd.Series, current: pd.Series, *,
                     method: str | None = None) -> dict[str, Any]:
    """Drift of the model's output itself (one column), with the same rule and methods."""
    name = str(reference.name or "prediction")
    detector = DriftDetector(methods={name: method} if method else None)
    report = detector.fit(reference.rename(name).to_frame()).detect(
        current.rename(name).to_frame())
    return ({str(k): v for k, v in report.columns.iloc[0].to_dict().items()}
            if len(report.columns) else {})


def domain_classifier_auc(reference: pd.DataFrame, current: pd.DataFrame, *,
                          max_rows: int = 5000, random_state: int = 0) -> float:
    """Multivariate drift: cross-validated ROC AUC of a classifier telling current rows from
    reference rows (0.5 = indistinguishable). Categorical columns are ordinal-coded."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    columns = [c for c in reference.columns if c in current.columns]
    if not columns or reference.empty or current.empty:
        raise DataError("no rows or no shared columns for the domain classifier",
                        field="columns", fix="give non-empty frames with the same columns")
    rng = np.random.default_rng(random_state)
    ref = reference[columns].iloc[rng.permutation(len(reference))[:max_rows]]
    cur = current[columns].iloc[rng.permutation(len(current))[:max_rows]]
    both = pd.concat([ref, cur], ignore_index=True)
    for c in columns:
        if column_kind(both[c]) == "categorical":
            both[c] = pd.factorize(both[c].astype(str))[0]
    target = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    model = HistGradientBoostingClassifier(max_iter=100, random_state=random_state)
    proba = cross_val_predict(model, both.to_numpy(dtype=float), target, cv=3,
                              method="predict_proba")[:, 1]
    return float(roc_auc_score(target, proba))


def pca_reconstruction_error(reference: pd.DataFrame, current: pd.DataFrame, *,
                             variance: float = 0.65) -> dict[str, float]:
    """Multivariate drift as NannyML measures it: PCA fitted on the standardised numerical
    reference keeps ``variance``; mean reconstruction error of current vs reference rows,
    with the reference's chunk spread (±3σ over 10 chunks) as the alert band."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    numeric = [c for c in reference.columns
               if c in current.columns and column_kind(reference[c]) == "numerical"]
    if len(numeric) < 2:
        raise DataError("PCA drift needs at least two numerical columns", field="columns",
                        fix="use the domain classifier for mostly categorical data")
    ref = reference[numeric].dropna().to_numpy(dtype=float)
    scaler = StandardScaler().fit(ref)
    pca = PCA(n_components=variance, svd_solver="full").fit(scaler.transform(ref))

    def errors(x: np.ndarray) -> np.ndarray:
        z = scaler.transform(x)
        return np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1)

    ref_err = errors(ref)
    chunks = [c.mean() for c in np.array_split(ref_err, 10) if len(c)]
    cur_err = errors(current[numeric].dropna().to_numpy(dtype=float))
    band = 3 * float(np.std(chunks))
    return {"pca_error_reference": float(ref_err.mean()),
            "pca_error_current": float(cur_err.mean()) if len(cur_err) else float("nan"),
            "pca_error_upper": float(ref_err.mean()) + band,
            "pca_drift": float(len(cur_err) > 0 and cur_err.mean() > ref_err.mean() + band)}
