"""MLflow pyfunc flavour of a recstack recommender, so standard MLflow tooling can load it.

``mlflow.pyfunc.load_model("models:/travel-next-item@champion").predict(frame)`` takes a frame
with ``user_id`` (or ``history``: a list of item ids) and optional ``k``, and returns one row per
recommended item. The recstack service itself reads the bundle directly (faster).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from recstack.sequential.bundle import RecommenderBundle


class RecommenderPyfunc(PythonModel):
    """Thin adapter: the artifact ``bundle`` is a directory written by RecommenderBundle.save."""

    def load_context(self, context: Any) -> None:
        self.bundle = RecommenderBundle.load(Path(context.artifacts["bundle"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        rows = []
        for i, row in enumerate(model_input.to_dict(orient="records")):
            history = row.get("history")
            recs = self.bundle.recommend(
                user_id=None if row.get("user_id") is None else str(row["user_id"]),
                history=list(history) if history is not None else None,
                k=int(row.get("k", 10)))
            rows += [{"row": i, "rank": r + 1, "item_id": rec.item_id, "score": rec.score}
                     for r, rec in enumerate(recs)]
        return pd.DataFrame(rows, columns=["row", "rank", "item_id", "score"])
