"""MLflow pyfunc flavour of a recstack recommender, so standard MLflow tooling can load it.

``mlflow.pyfunc.load_model("models:/travel-next-item@champion").predict(frame)`` takes a frame
with ``user_id`` (or ``history``: a list of item ids) and optional ``k``, and returns one row per
recommended item. The recstack service itself reads the bundle directly (faster).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import DataType
from mlflow.types.schema import Array, ColSpec, Schema

from recstack.sequential.bundle import RecommenderBundle

# Logged by path (models-from-code), not imported: importing it registers the model with mlflow.
PYFUNC_MODEL_FILE = Path(str(files("recstack.sequential") / "pyfunc_model.py"))


def recommender_signature() -> ModelSignature:
    """Input: user_id or history (item ids) and k; output: one row per recommended item."""
    inputs = Schema([ColSpec(DataType.string, "user_id", required=False),
                     ColSpec(Array(DataType.string), "history", required=False),
                     ColSpec(DataType.long, "k", required=False)])
    outputs = Schema([ColSpec(DataType.long, "row"), ColSpec(DataType.long, "rank"),
                      ColSpec(DataType.string, "item_id"), ColSpec(DataType.double, "score")])
    return ModelSignature(inputs=inputs, outputs=outputs)


class RecommenderPyfunc(PythonModel):
    """Thin adapter: the artifact ``bundle`` is a directory written by RecommenderBundle.save."""

    def load_context(self, context: Any) -> None:
        self.bundle = RecommenderBundle.load(Path(context.artifacts["bundle"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        rows = []
        for i, row in enumerate(model_input.to_dict(orient="records")):
            history = row.get("history")
            if isinstance(history, float):  # a missing optional column arrives as NaN
                history = None
            recs = self.bundle.recommend(
                user_id=None if row.get("user_id") is None else str(row["user_id"]),
                history=list(history) if history is not None else None,
                k=int(row.get("k", 10)))
            rows += [{"row": i, "rank": r + 1, "item_id": rec.item_id, "score": rec.score}
                     for r, rec in enumerate(recs)]
        return pd.DataFrame(rows, columns=["row", "rank", "item_id", "score"])
