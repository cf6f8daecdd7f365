"""MLflow pyfunc flavour of an NLU bundle: a frame with ``text`` in, one row per text out
(``intent``, ``intent_score`` and the entities as JSON)."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import DataType
from mlflow.types.schema import ColSpec, Schema

from recstack.nlu.bundle import NLUBundle

# Logged by path (models-from-code), not imported: importing it registers the model with mlflow.
PYFUNC_MODEL_FILE = Path(str(files("recstack.nlu") / "pyfunc_model.py"))


def nlu_signature() -> ModelSignature:
    inputs = Schema([ColSpec(DataType.string, "text")])
    outputs = Schema([ColSpec(DataType.string, "text"), ColSpec(DataType.string, "intent"),
                      ColSpec(DataType.double, "intent_score"),
                      ColSpec(DataType.string, "entities")])
    return ModelSignature(inputs=inputs, outputs=outputs)


class NLUPyfunc(PythonModel):
    def load_context(self, context: Any) -> None:
        self.bundle = NLUBundle.load(Path(context.artifacts["bundle"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        parses = self.bundle.parse([str(t) for t in model_input["text"]])
        rows = [p.to_dict() for p in parses]
        for row in rows:
            row["entities"] = json.dumps(row["entities"], ensure_ascii=False)
        return pd.DataFrame(rows, columns=["text", "intent", "intent_score", "entities"])
