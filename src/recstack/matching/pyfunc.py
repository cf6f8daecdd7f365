"""MLflow pyfunc flavour of a matching bundle: a frame with ``left`` and ``right`` serialised
records (``COL name VAL … COL latitude VAL …``) in, ``score`` and ``match`` (0/1) out."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import DataType
from mlflow.types.schema import ColSpec, Schema

from recstack.matching.bundle import MatchBundle
from recstack.matching.data import PairSet, parse_record

# Logged by path (models-from-code), not imported: importing it registers the model with mlflow.
PYFUNC_MODEL_FILE = Path(str(files("recstack.matching") / "pyfunc_model.py"))


def matching_signature() -> ModelSignature:
    inputs = Schema([ColSpec(DataType.string, "left"), ColSpec(DataType.string, "right")])
    outputs = Schema([ColSpec(DataType.double, "score"), ColSpec(DataType.long, "match")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def pairs_from_frame(frame: pd.DataFrame) -> PairSet:
    """Pairs from serialised ``left`` / ``right`` columns (errors name the row)."""
    left = [parse_record(str(v), f"row {i} left") for i, v in enumerate(frame["left"])]
    right = [parse_record(str(v), f"row {i} right") for i, v in enumerate(frame["right"])]
    return PairSet(left, right)


class MatchingPyfunc(PythonModel):
    def load_context(self, context: Any) -> None:
        self.bundle = MatchBundle.load(Path(context.artifacts["bundle"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        scores = self.bundle.score(pairs_from_frame(model_input))
        return pd.DataFrame({"score": scores, "match": (scores >= 0.5).astype("int64")})
