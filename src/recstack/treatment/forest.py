"""Many fitted histogram-gradient-boosting models evaluated at once, level by level in numpy.

A treatment model predicts with 35 fitted boosting models (5 folds × outcome and propensity,
each propensity model 3 calibrated classifiers): about 12,000 trees. scikit-learn predicts them
one tree at a time, each call a Python function and an OpenMP region: for one patient that
overhead is the whole cost (0.1 s quiet, seconds under a threaded server where every request
starts its own OpenMP threads). :class:`Forest` flattens every tree of several models into one
node table and walks all (row, tree) pairs together, one numpy step per tree level.

The numbers are scikit-learn's: the same comparisons (``x <= threshold``; a missing value goes
where the tree learned), the same leaf values, and each model's sum taken in scikit-learn's
order (baseline, then tree by tree: a cumulative sum), so raw predictions agree bit for bit.
Models with categorical splits are not flattened; :func:`compile_models` returns None for them
and the caller keeps scikit-learn's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# A fitted HistGradientBoostingRegressor or HistGradientBoostingClassifier (private attributes
# are read: ``_predictors``, ``_baseline_prediction``).
HistModel = Any
# Rows evaluated together: keeps the (rows × trees) index arrays in the CPU caches.
CHUNK_CELLS = 1 << 18


class Forest:
    """Every tree of ``models``, as one node table.

    Args:
        models: fitted histogram-gradient-boosting models on the same feature columns, none
            with categorical splits.
    """

    def __init__(self, models: Sequence[HistModel]):
        self.n_outputs = [int(m.n_trees_per_iteration_) for m in models]
        targets: list[list[np.ndarray]] = []  # one list of trees per (model, output)
        baselines = []
        for model in models:
            base = np.asarray(model._baseline_prediction, dtype=np.float64).ravel()
            for k in range(model.n_trees_per_iteration_):
                targets.append([iteration[k].nodes for iteration in model._predictors])
                baselines.append(base[k])
        length = max(len(trees) for trees in targets)
        # Pad with one-leaf trees of value 0: x + 0.0 == x, so the sums are unchanged.
        empty = np.zeros(1, dtype=targets[0][0].dtype)
        empty["is_leaf"] = 1
        roots, tables, offset = [], [], 0
        for trees in targets:
            for nodes in trees + [empty] * (length - len(trees)):
                roots.append(offset)
                tables.append(_absolute(nodes, offset))
                offset += len(nodes)
        table = np.concatenate(tables)
        if table["is_categorical"][table["is_leaf"] == 0].any():
            raise ValueError("categorical splits are not flattened")
        self.baselines = np.asarray(baselines)
        self.trees_per_target = length
        self.roots = np.asarray(roots, dtype=np.intp)
        self.feature = table["feature_idx"].astype(np.intp)
        self.threshold = table["num_threshold"].astype(float)
        self.missing_left = table["missing_go_to_left"].astype(bool)
        self.left = table["left"].astype(np.intp)
        self.right = table["right"].astype(np.intp)
        self.value = table["value"].astype(float)
        self.is_leaf = table["is_leaf"].astype(bool)

    def raw(self, X: np.ndarray) -> list[np.ndarray]:
        """Each model's raw prediction (its ``_raw_predict``): one (rows, outputs) array per
        model."""
        X = np.ascontiguousarray(X, dtype=float)
        step = max(1, CHUNK_CELLS // len(self.roots))
        sums = np.concatenate([self._sums(X[i:i + step]) for i in range(0, len(X), step)])
        out, start = [], 0
        for k in self.n_outputs:
            out.append(sums[:, start:start + k])
            start += k
        return out

    def _sums(self, X: np.ndarray) -> np.ndarray:
        n, n_features = X.shape
        n_trees = len(self.roots)
        node = np.tile(self.roots, n)  # cell (row r, tree t) at r * n_trees + t
        row_base = np.repeat(np.arange(n, dtype=np.intp) * n_features, n_trees)
        flat = X.ravel()
        has_nan = bool(np.isnan(flat).any())
        # Only cells not yet at a leaf move: most trees end long before the deepest one.
        active = np.flatnonzero(~self.is_leaf[node])
        while active.size:
            at = node[active]
            value = flat[row_base[active] + self.feature[at]]
            go_left = value <= self.threshold[at]
            if has_nan:
                go_left |= np.isnan(value) & self.missing_left[at]
            at = np.where(go_left, self.left[at], self.right[at])
            node[active] = at
            active = active[~self.is_leaf[at]]
        leaves = self.value[node].reshape(n, len(self.baselines), self.trees_per_target)
        # scikit-learn's order: baseline first, then every tree in turn (cumsum is sequential).
        stacked = np.concatenate(
            [np.broadcast_to(self.baselines[None, :, None], (n, len(self.baselines), 1)),
             leaves], axis=2)
        return np.cumsum(stacked, axis=2)[:, :, -1]


def _absolute(nodes: np.ndarray, offset: int) -> np.ndarray:
    """A tree's nodes with child indices into the shared table; a leaf points to itself, so
    walking past it stays there."""
    nodes = nodes.copy()
    index = np.arange(len(nodes)) + offset
    leaf = nodes["is_leaf"].astype(bool)
    left = nodes["left"].astype(np.int64) + offset
    right = nodes["right"].astype(np.int64) + offset
    nodes["left"] = np.where(leaf, index, left)
    nodes["right"] = np.where(leaf, index, right)
    # A leaf compares nothing: +inf threshold sends every value "left", i.e. to itself.
    nodes["num_threshold"] = np.where(leaf, np.inf, nodes["num_threshold"])
    nodes["feature_idx"] = np.where(leaf, 0, nodes["feature_idx"])
    return nodes


def compile_models(models: Sequence[HistModel]) -> Forest | None:
    """A :class:`Forest` of ``models``, or None when one has categorical splits."""
    try:
        return Forest(models)
    except ValueError:
        return None
