"""MLflow pyfunc flavour of a "viewed together" bundle, so standard MLflow tooling can load it.

``mlflow.pyfunc.load_model("models:/travel-similar-items@champion").predict(frame)`` takes a
frame with ``item_id`` and optional ``k``, ``city`` and ``category``, and returns one row per
similar item. The recstack service reads the bundle directly (faster).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import DataType
from mlflow.types.schema import ColSpec, Schema

from recstack.embeddings.bundle import SimilarItemsBundle

# Logged by path (models-from-code), not imported: importing it registers the model with mlflow.
PYFUNC_MODEL_FILE = Path(str(files("recstack.embeddings") / "pyfunc_model.py"))
FILTER_COLUMNS = ("city", "category", "country", "genres")


def similar_items_signature() -> ModelSignature:
    """Input: item_id, k and optional filters; output: one row per similar item."""
    inputs = Schema([ColSpec(DataType.string, "item_id"),
                     ColSpec(DataType.long, "k", required=False),
                     *[ColSpec(DataType.string, c, required=False) for c in FILTER_COLUMNS]])
    outputs = Schema([ColSpec(DataType.long, "row"), ColSpec(DataType.long, "rank"),
                      ColSpec(DataType.string, "item_id"), ColSpec(DataType.double, "score")])
    return ModelSignature(inputs=inputs, outputs=outputs)


class SimilarItemsPyfunc(PythonModel):
    """Thin adapter over :class:`SimilarItemsBundle` (artifact ``bundle``)."""

    def load_context(self, context: Any) -> None:
        self.bundle = SimilarItemsBundle.load(Path(context.artifacts["bundle"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        rows = []
        for i, row in enumerate(model_input.to_dict(orient="records")):
            filters = {c: str(row[c]) for c in FILTER_COLUMNS
                       if isinstance(row.get(c), str) and row[c]}  # missing arrive as NaN/None
            k = row.get("k")
            items = self.bundle.similar(str(row["item_id"]), int(k) if k == k and k else 10,
                                        filters or None)
            rows += [{"row": i, "rank": r + 1, "item_id": s.item_id, "score": s.score}
                     for r, s in enumerate(items)]
        return pd.DataFrame(rows, columns=["row", "rank", "item_id", "score"])
