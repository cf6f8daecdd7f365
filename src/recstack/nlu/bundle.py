"""A trained NLU model as a folder: ``nlu.json`` (model type, labels, provenance) + ``model/``.

The service, ``recstack nlu parse`` and the MLflow pyfunc flavour all load this folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recstack.errors import DataError
from recstack.monitoring.reference import write_reference
from recstack.nlu.models import nlu_model_class
from recstack.nlu.schema import NLUModel, Parse

BUNDLE_FILE = "nlu.json"


def monitored_features(parse: Parse) -> dict[str, Any]:
    """What the prediction log records of a parse, and the reference records of validation
    parses: monitoring compares their distributions (``prediction`` is the intent)."""
    return {"n_chars": len(parse.text), "n_entities": len(parse.entities)}


@dataclass
class NLUBundle:
    model: NLUModel
    model_type: str
    info: dict[str, Any] = field(default_factory=dict)
    # Validation parses (features, predicted intent, true intent): monitoring's drift reference.
    reference: pd.DataFrame | None = None

    def parse(self, texts: list[str]) -> list[Parse]:
        return self.model.parse(texts)

    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        (directory / "model").mkdir(parents=True, exist_ok=True)
        self.model.save(directory / "model")
        if self.reference is not None:
            write_reference(self.reference, directory)
        (directory / BUNDLE_FILE).write_text(json.dumps(
            {"model_type": self.model_type, "info": self.info}, ensure_ascii=False, indent=1))
        return directory

    @classmethod
    def load(cls, directory: Path) -> NLUBundle:
        path = Path(directory) / BUNDLE_FILE
        if not path.is_file():
            raise DataError(f"{directory} is not an NLU bundle (no {BUNDLE_FILE})",
                            field="model", fix="name a model registered by `recstack nlu train`")
        meta = json.loads(path.read_text())
        model = nlu_model_class(meta["model_type"]).load(Path(directory) / "model")
        return cls(model=model, model_type=meta["model_type"], info=meta.get("info", {}))
