"""A trained matcher as a folder: ``matching.json`` (matcher type, what it chose, provenance),
``model/`` (the fitted matcher) and the validation reference for monitoring.

The service, ``recstack match evaluate|predict`` and the MLflow pyfunc flavour all load this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recstack.errors import DataError
from recstack.matching.data import PairSet
from recstack.matching.matchers import Matcher, matcher_class
from recstack.monitoring.reference import write_reference

BUNDLE_FILE = "matching.json"
# Pair features the prediction log records and monitoring compares with the validation
# reference: drift in how alike served pairs are shows up here first.
MONITORED = ("name_token_set", "name_jaro_winkler", "distance_m", "address_token_set")


def monitored_features(pairs: PairSet, matcher: Matcher) -> pd.DataFrame:
    """The monitored pair features (NaN → None-able floats), one row per pair."""
    features = matcher.featurizer_.transform(pairs)  # type: ignore[attr-defined]
    return features[[c for c in MONITORED if c in features.columns]]


@dataclass
class MatchBundle:
    matcher: Matcher
    model_type: str
    info: dict[str, Any] = field(default_factory=dict)
    # Validation pairs' features, decisions and labels: monitoring's drift reference.
    reference: pd.DataFrame | None = None

    def score(self, pairs: PairSet) -> np.ndarray:
        """Match probability per pair (0.5 is the decision boundary)."""
        return np.asarray(self.matcher.predict_proba(pairs)[:, 1])

    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        self.matcher.save(directory / "model")
        if self.reference is not None:
            write_reference(self.reference, directory)
        (directory / BUNDLE_FILE).write_text(json.dumps(
            {"model_type": self.model_type, "info": self.info}, ensure_ascii=False, indent=1,
            default=str))
        return directory

    @classmethod
    def load(cls, directory: Path) -> MatchBundle:
        path = Path(directory) / BUNDLE_FILE
        if not path.is_file():
            raise DataError(f"{directory} is not a matching bundle (no {BUNDLE_FILE})",
                            field="model", fix="name a model registered by `recstack match train`")
        meta = json.loads(path.read_text())
        matcher = matcher_class(meta["model_type"]).load(Path(directory) / "model")
        return cls(matcher=matcher, model_type=meta["model_type"], info=meta.get("info", {}))
