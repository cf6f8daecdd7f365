"""Pair matchers with scikit-learn habits, and the table of them by name.

A matcher is fitted on training pairs, chooses its decision rule on validation pairs (validation
only steers choices; test numbers come from a separate evaluation), and then scores pairs:
``predict_proba`` gives ``(n, 2)`` probabilities, ``predict`` 0/1 decisions. Saved as a folder.

- ``thresholds``: the rule baseline: a match when the name similarity reaches a threshold and
  the distance (when both records have coordinates) stays under a cut-off, both chosen by grid
  search for validation F1 (also which name similarity to use).
- ``gbm``: gradient boosting (scikit-learn's histogram GBM, which takes NaN natively) on the
  engineered features of :mod:`recstack.matching.features`, decision threshold chosen for
  validation F1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recstack.errors import ConfigError, DataError
from recstack.matching.data import PairSet
from recstack.matching.features import PairFeaturizer
from recstack.plugins import PluginTable

__all__ = ["GBMMatcher", "Matcher", "ThresholdMatcher", "best_f1_threshold", "matcher_class",
           "matcher_names", "register_matcher"]

MATCHER_FILE = "matcher.joblib"


def best_f1_threshold(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """The score threshold with the best F1 (``score >= threshold`` is a match) and that F1."""
    from sklearn.metrics import precision_recall_curve

    if labels.sum() == 0:
        raise DataError("the validation pairs hold no match, so no threshold can be chosen",
                        field="--valid", fix="give validation pairs with some label 1")
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1[:-1]))  # the last point has no threshold
    return float(thresholds[best]), float(f1[best])


def check_is_fitted(matcher: Matcher) -> None:
    if not hasattr(matcher, "featurizer_"):
        raise ConfigError(f"this {type(matcher).__name__} is not fitted yet", field="model",
                          fix="call fit(train, valid) first, or load a saved matcher")


class Matcher:
    """Base class: ``fit(train, valid)``, ``predict_proba``, ``predict``, ``save``, ``load``."""

    name = "matcher"

    def fit(self, train: PairSet, valid: PairSet) -> Matcher:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict_proba(self, pairs: PairSet) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, pairs: PairSet) -> np.ndarray:
        """0/1 decisions: 1 where the match probability reaches 0.5."""
        return (self.predict_proba(pairs)[:, 1] >= 0.5).astype(np.int8)

    def describe(self) -> dict[str, Any]:
        """What the fit chose (thresholds, measure), for the run's parameters and the bundle."""
        return {}

    def save(self, directory: Path) -> Path:
        import joblib

        check_is_fitted(self)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, directory / MATCHER_FILE)
        return directory

    @classmethod
    def load(cls, directory: Path) -> Matcher:
        import joblib

        path = Path(directory) / MATCHER_FILE
        if not path.is_file():
            raise DataError(f"{directory} holds no saved matcher ({MATCHER_FILE})", field="model",
                            fix="name a model registered by `recstack match train`")
        matcher = joblib.load(path)
        if not isinstance(matcher, cls):
            raise DataError(f"{path} holds a {type(matcher).__name__}, not a {cls.__name__}",
                            field="model", fix="load it with its own class")
        return matcher


class ThresholdMatcher(Matcher):
    """Name similarity ≥ t and distance ≤ d (when known), both chosen for validation F1.

    Args:
        measures: name similarities to choose from (columns of the pair features).
        distances_m: distance cut-offs to choose from; ``inf`` ignores distance.
    """

    name = "thresholds"

    def __init__(self, *, measures: tuple[str, ...] = ("name_token_set", "name_jaro_winkler",
                                                       "name_ratio"),
                 distances_m: tuple[float, ...] = (25, 50, 100, 200, 400, 800, 1600, 3200,
                                                   float("inf"))):
        self.measures = measures
        self.distances_m = distances_m

    def _rule_scores(self, features: Any, measure: str, distance_m: float) -> np.ndarray:
        similarity = np.nan_to_num(features[measure].to_numpy(), nan=0.0)
        distance = features["distance_m"].to_numpy()
        near = np.isnan(distance) | (distance <= distance_m)  # unknown distance: name decides
        return np.where(near, similarity, -1.0)

    def fit(self, train: PairSet, valid: PairSet) -> ThresholdMatcher:
        self.featurizer_ = PairFeaturizer().fit(train)
        features = self.featurizer_.transform(valid)
        labels = valid.require_labels("choosing the thresholds")
        best: tuple[float, str, float, float] | None = None
        for measure in self.measures:
            for distance_m in self.distances_m:
                scores = self._rule_scores(features, measure, distance_m)
                threshold, f1 = best_f1_threshold(labels, scores)
                if best is None or f1 > best[0] + 1e-9:
                    best = (f1, measure, distance_m, max(threshold, 0.0))
        assert best is not None
        self.valid_f1_, self.measure_, self.distance_m_, self.threshold_ = best
        return self

    def predict_proba(self, pairs: PairSet) -> np.ndarray:
        check_is_fitted(self)
        features = self.featurizer_.transform(pairs)
        similarity = np.nan_to_num(features[self.measure_].to_numpy(), nan=0.0)
        # A smooth score that crosses 0.5 exactly at the name threshold; too far halves it.
        score = 1.0 / (1.0 + np.exp(-20.0 * (similarity - self.threshold_)))
        distance = features["distance_m"].to_numpy()
        far = ~np.isnan(distance) & (distance > self.distance_m_)
        score = np.where(far, score * 0.49, score)
        return np.column_stack([1.0 - score, score])

    def describe(self) -> dict[str, Any]:
        check_is_fitted(self)
        return {"measure": self.measure_, "name_threshold": round(self.threshold_, 4),
                "distance_m": self.distance_m_}


class GBMMatcher(Matcher):
    """Histogram gradient boosting on the pair features; threshold chosen for validation F1.

    Args:
        max_iter: boosting rounds.
        learning_rate: shrinkage.
        max_leaf_nodes: leaves per tree.
        l2_regularization: leaf-value penalty.
        random_state: seed of the booster.
    """

    name = "gbm"

    def __init__(self, *, max_iter: int = 400, learning_rate: float = 0.05,
                 max_leaf_nodes: int = 31, l2_regularization: float = 1.0,
                 random_state: int = 0):
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def fit(self, train: PairSet, valid: PairSet) -> GBMMatcher:
        from sklearn.ensemble import HistGradientBoostingClassifier

        labels = train.require_labels("training")
        if len(np.unique(labels)) < 2:
            raise DataError("the training pairs hold only one label", field="--pairs",
                            fix="give training pairs with both matches (1) and non-matches (0)")
        featurizer = self.new_featurizer().fit(train)
        self.model_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, l2_regularization=self.l2_regularization,
            early_stopping=False, random_state=self.random_state)
        features = featurizer.transform(train)
        # A feature never known in training (distance in a set without coordinates) carries
        # nothing, and the booster's binning cannot take an all-NaN column: leave it out.
        self.columns_ = [c for c in features.columns if features[c].notna().any()]
        self.model_.fit(features[self.columns_].to_numpy(), labels)
        self.featurizer_ = featurizer
        raw = self._raw_scores(valid)
        self.threshold_, self.valid_f1_ = best_f1_threshold(
            valid.require_labels("choosing the threshold"), raw)
        return self

    def new_featurizer(self) -> PairFeaturizer:
        """The (unfitted) featurizer: subclasses add features (see ``crosslingual``)."""
        return PairFeaturizer()

    def _raw_scores(self, pairs: PairSet) -> np.ndarray:
        features = self.featurizer_.transform(pairs)[self.columns_].to_numpy()
        return np.asarray(self.model_.predict_proba(features)[:, 1])

    def predict_proba(self, pairs: PairSet) -> np.ndarray:
        """Booster probabilities moved so that the chosen threshold lands on 0.5 (monotone, so
        rankings are unchanged and ``predict`` applies the validation threshold)."""
        check_is_fitted(self)
        raw = np.clip(self._raw_scores(pairs), 1e-7, 1 - 1e-7)
        t = float(np.clip(self.threshold_, 1e-7, 1 - 1e-7))
        logit = np.log(raw / (1 - raw)) - np.log(t / (1 - t))
        score = 1.0 / (1.0 + np.exp(-logit))
        return np.column_stack([1.0 - score, score])

    def describe(self) -> dict[str, Any]:
        check_is_fitted(self)
        return {"threshold": round(self.threshold_, 4),
                "n_features": len(self.columns_)}


_MATCHERS: PluginTable[type[Matcher]] = PluginTable("matcher", field="model")
_MATCHERS.add("thresholds", ThresholdMatcher)
_MATCHERS.add("gbm", GBMMatcher)


def _load_builtin() -> None:
    """Registers the matchers defined in other modules of this package (imported on first
    lookup: they import this module)."""
    if "crosslingual" not in _MATCHERS:
        from recstack.matching.crosslingual import CrossLingualMatcher

        if "crosslingual" not in _MATCHERS:
            _MATCHERS.add("crosslingual", CrossLingualMatcher)
    if "ditto" not in _MATCHERS:  # imports torch only when it fits or loads
        from recstack.matching.ditto import DittoMatcher

        if "ditto" not in _MATCHERS:
            _MATCHERS.add("ditto", DittoMatcher)


def matcher_names() -> list[str]:
    _load_builtin()
    return _MATCHERS.names()


def matcher_class(name: str) -> type[Matcher]:
    """The matcher registered as ``name``; an unknown name is an error listing the known ones."""
    _load_builtin()
    return _MATCHERS.get(name)


def register_matcher(name: str, cls: type[Matcher]) -> None:
    """Add a matcher: ``register_matcher("name", MatcherClass)``."""
    _MATCHERS.add(name, cls)
