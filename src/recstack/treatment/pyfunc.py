"""MLflow pyfunc flavour of a treatment model, so standard MLflow tooling can load it.

``mlflow.pyfunc.load_model("models:/icl-size@champion").predict(frame)`` takes one row per
patient (the feature columns) and returns one row per (patient, option), as
``TreatmentRecommender.predict`` does.
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

from recstack.treatment.estimator import TreatmentRecommender

# Logged by path (models-from-code), not imported: importing it registers the model with mlflow.
PYFUNC_MODEL_FILE = Path(str(files("recstack.treatment") / "pyfunc_model.py"))


def treatment_signature(model: TreatmentRecommender) -> ModelSignature:
    """Input: the feature columns; output: one row per (row, option)."""
    inputs = Schema([ColSpec(DataType.double, name) for name in model.feature_names_])
    option_type = DataType.double if model.ordered_ else DataType.string
    outputs = Schema([
        ColSpec(DataType.string, "row_id"), ColSpec(option_type, "option"),
        ColSpec(DataType.double, "prediction"), ColSpec(DataType.double, "lower"),
        ColSpec(DataType.double, "upper"), ColSpec(DataType.boolean, "supported"),
        ColSpec(DataType.double, "propensity"), ColSpec(DataType.double, "p_in_target"),
        ColSpec(DataType.boolean, "recommended")])
    return ModelSignature(inputs=inputs, outputs=outputs)


class TreatmentPyfunc(PythonModel):
    """Thin adapter over the bundle written by ``pipeline.save_bundle``."""

    def load_context(self, context: Any) -> None:
        from recstack.treatment.pipeline import load_bundle_dir

        self.model, self.info = load_bundle_dir(Path(context.artifacts["bundle"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        preds = self.model.predict(model_input)
        preds["row_id"] = preds["row_id"].astype(str)
        return preds
