"""Drift methods: pure functions of a prepared reference column and a current column.

Each is registered with its metadata (column kinds, default threshold, whether a small or a
large score means drift) so that a report or an alert rule can store the method by name and
re-run it. Definitions follow Evidently's stattests so that verdicts agree; the speed comes from
preparing the reference once (sorted values, counts) and working on sorted arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

from recstack.plugins import PluginTable

Kind = Literal["numerical", "categorical"]


@dataclass
class ColumnSample:
    """One column without missing values, ready for every method.

    Numerical columns hold sorted float64 ``values``; ``keys``/``counts`` (distinct values and
    their counts) are built on first use. Categorical ones hold ``keys``/``counts`` of their
    values as strings.
    """

    kind: Kind
    n: int
    values: np.ndarray
    n_unique: int
    std: float = 0.0
    n_missing: int = 0
    _keys: np.ndarray | None = field(default=None, repr=False)
    _counts: np.ndarray | None = field(default=None, repr=False)
    _index: dict[object, int] = field(default_factory=dict, repr=False)

    @classmethod
    def from_values(cls, raw: np.ndarray | pd.Series, kind: Kind) -> ColumnSample:
        series = pd.Series(raw)
        missing = int(series.isna().sum())
        if missing:
            series = series.dropna()
        if kind == "numerical":
            values = np.sort(series.to_numpy(dtype=np.float64))
            n_unique = int(np.count_nonzero(values[1:] != values[:-1])) + 1 if len(values) else 0
            return cls(kind, len(values), values, n_unique,
                       float(np.std(values)) if len(values) else 0.0, missing)
        # Count first, stringify the few distinct keys after (1 and "1" become one key).
        vc = series.value_counts(sort=False)
        vc = vc[vc > 0]  # unused categories of a pandas Categorical
        vc.index = vc.index.astype(str)
        if not vc.index.is_unique:
            vc = vc.groupby(level=0).sum()
        return cls(kind, int(vc.sum()), np.zeros(0), len(vc), 0.0, missing,
                   vc.index.to_numpy(dtype=object), vc.to_numpy(dtype=np.int64))

    @property
    def keys(self) -> np.ndarray:
        if self._keys is None:
            starts = np.flatnonzero(np.r_[True, self.values[1:] != self.values[:-1]])
            self._keys = self.values[starts]
            self._counts = np.diff(np.r_[starts, len(self.values)])
        return self._keys

    @property
    def counts(self) -> np.ndarray:
        self.keys  # noqa: B018 (builds both)
        assert self._counts is not None
        return self._counts

    def count_of(self, keys: np.ndarray) -> np.ndarray:
        """Counts of ``keys`` (0 for keys this column lacks)."""
        if not self._index:
            self._index = {k: i for i, k in enumerate(self.keys.tolist())}
        counts = self.counts
        out = np.zeros(len(keys), dtype=np.float64)
        for j, key in enumerate(keys.tolist()):
            i = self._index.get(key)
            if i is not None:
                out[j] = counts[i]
        return out


MethodFunc = Callable[[ColumnSample, ColumnSample], float]


@dataclass(frozen=True)
class DriftMethod:
    """A registered method: ``score`` is a p-value (drift when below the threshold) or a
    distance (drift when at or above it)."""

    name: str
    kinds: tuple[Kind, ...]
    func: MethodFunc
    default_threshold: float
    score: Literal["p_value", "distance"]

    def is_drift(self, value: float, threshold: float) -> bool:
        if np.isnan(value):
            return False
        return value < threshold if self.score == "p_value" else value >= threshold


_METHODS: PluginTable[DriftMethod] = PluginTable("drift method", field="method")


def register_drift_method(name: str, *, kinds: tuple[Kind, ...], threshold: float,
                          score: Literal["p_value", "distance"]) -> Callable[[MethodFunc],
                                                                             MethodFunc]:
    """Decorator: add a drift method under ``name``."""
    def wrap(func: MethodFunc) -> MethodFunc:
        _METHODS.add(name, DriftMethod(name, kinds, func, threshold, score))
        return func
    return wrap


def get_drift_method(name: str) -> DriftMethod:
    return _METHODS.get(name)


def drift_methods() -> dict[str, DriftMethod]:
    return _METHODS.as_dict()


def _union_keys(ref: ColumnSample, cur: ColumnSample) -> np.ndarray:
    if ref.kind == "numerical":
        return np.union1d(ref.keys, cur.keys)
    return np.array(sorted(set(ref.keys.tolist()) | set(cur.keys.tolist())), dtype=object)


def _shares(ref: ColumnSample, cur: ColumnSample, fill_zeroes: bool
            ) -> tuple[np.ndarray, np.ndarray]:
    """Shares per bin (Sturges bins over both samples for numbers with > 20 distinct reference
    values, else per distinct value), as Evidently bins for PSI and Jensen–Shannon."""
    if ref.kind == "numerical" and ref.n_unique > 20:
        lo, hi = min(ref.values[0], cur.values[0]), max(ref.values[-1], cur.values[-1])
        n_bins = int(np.ceil(np.log2(ref.n + cur.n) + 1)) if hi > lo else 1
        edges = (np.linspace(lo, hi, n_bins + 1) if hi > lo
                 else np.array([lo - 0.5, hi + 0.5]))
        p = _histogram_sorted(ref.values, edges) / ref.n
        q = _histogram_sorted(cur.values, edges) / cur.n
    else:
        keys = _union_keys(ref, cur)
        p, q = ref.count_of(keys) / ref.n, cur.count_of(keys) / cur.n
    if fill_zeroes:
        for shares in (p, q):
            smallest = shares[shares > 0].min()
            shares[shares == 0] = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    return p, q


def _histogram_sorted(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(values, edges)[0]`` for sorted values inside the edges (last bin closed)."""
    idx = np.searchsorted(values, edges, side="left")
    idx[-1] = len(values)
    return np.diff(idx)


@register_drift_method("ks", kinds=("numerical",), threshold=0.05, score="p_value")
def ks(ref: ColumnSample, cur: ColumnSample) -> float:
    """Two-sample Kolmogorov–Smirnov p-value."""
    return float(stats.ks_2samp(ref.values, cur.values).pvalue)


@register_drift_method("wasserstein", kinds=("numerical",), threshold=0.1, score="distance")
def wasserstein(ref: ColumnSample, cur: ColumnSample) -> float:
    """First Wasserstein distance divided by the reference standard deviation (floor 0.001).

    Computed as the area between the two quantile functions, ∫|F⁻¹(u) − G⁻¹(u)| du, on the
    sorted samples: the grid of u and the indices into both samples depend only on the two
    sample sizes, so they are built once and each column costs two gathers and a dot product.
    """
    ref_index, cur_index, du = _quantile_grid(ref.n, cur.n)
    distance = np.dot(np.abs(ref.values[ref_index] - cur.values[cur_index]), du)
    return float(distance / max(ref.std, 0.001))


@lru_cache(maxsize=4)
def _quantile_grid(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps of the merged quantile grid {i/n} ∪ {j/m}: the sample index each quantile
    function takes on every step, and the step widths. Integer arithmetic keeps it exact."""
    i = np.arange(1, n + 1, dtype=np.int64)
    j = np.arange(1, m + 1, dtype=np.int64)
    # On (u_prev, i/n] the reference quantile is ref[i-1] and the current one cur[ceil(i m/n)-1].
    ref_index = np.concatenate([i - 1, (j * n + m - 1) // m - 1])
    cur_index = np.concatenate([(i * m + n - 1) // n - 1, j - 1])
    u = np.concatenate([i / n, j / m])
    order = np.argsort(u, kind="stable")
    u = u[order]
    du = np.diff(u, prepend=0.0)
    return ref_index[order], cur_index[order], du


@register_drift_method("psi", kinds=("numerical", "categorical"), threshold=0.1,
                       score="distance")
def psi(ref: ColumnSample, cur: ColumnSample) -> float:
    """Population stability index over binned shares."""
    p, q = _shares(ref, cur, fill_zeroes=True)
    return float(np.sum((p - q) * np.log(p / q)))


@register_drift_method("jensenshannon", kinds=("numerical", "categorical"), threshold=0.1,
                       score="distance")
def jensenshannon(ref: ColumnSample, cur: ColumnSample) -> float:
    """Jensen–Shannon distance (natural log) over binned shares."""
    p, q = _shares(ref, cur, fill_zeroes=False)
    return float(distance.jensenshannon(p, q))


@register_drift_method("chisquare", kinds=("categorical", "numerical"), threshold=0.05,
                       score="p_value")
def chisquare(ref: ColumnSample, cur: ColumnSample) -> float:
    """Chi² goodness-of-fit p-value of current counts against scaled reference counts."""
    keys = _union_keys(ref, cur)
    expected = ref.count_of(keys) * (cur.n / ref.n)
    return float(stats.chisquare(cur.count_of(keys), expected).pvalue)


@register_drift_method("z", kinds=("categorical", "numerical"), threshold=0.05, score="p_value")
def z_test(ref: ColumnSample, cur: ColumnSample) -> float:
    """Two-proportion z-test p-value for a column with two values."""
    keys = _union_keys(ref, cur)
    if len(keys) == 1:
        return 1.0
    first = keys[:1]
    p1 = 1 - ref.count_of(first)[0] / ref.n
    p2 = 1 - cur.count_of(first)[0] / cur.n
    pooled = (p1 * ref.n + p2 * cur.n) / (ref.n + cur.n)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / ref.n + 1 / cur.n))
    return float(2 * stats.norm.sf(abs(z)))
