"""The training frame a registered model carries: monitoring's default drift reference.

A system that registers a model may save the exact frame it was trained on inside the model's
bundle (:func:`write_reference`); ``recstack monitor run --reference-model NAME@ALIAS`` then
compares live features against it (:func:`model_reference`) without a separate file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from recstack.errors import DataError

if TYPE_CHECKING:
    from recstack.settings import Settings

REFERENCE_FILE = "reference.parquet"  # inside a registered model's bundle folder


def write_reference(frame: pd.DataFrame, bundle_dir: Path) -> Path:
    """Save ``frame`` as the reference of the bundle in ``bundle_dir``; returns its path."""
    path = Path(bundle_dir) / REFERENCE_FILE
    frame.to_parquet(path, index=False)
    return path


def model_reference(model_ref: str, settings: Settings) -> pd.DataFrame:
    """The training frame a registered version carries (``reference.parquet`` in its bundle).

    Raises:
        DataError: the version was registered without one.
    """
    from recstack.registry.models import ModelRegistry

    registry = ModelRegistry(settings)
    path = registry.download(registry.resolve(model_ref)) / REFERENCE_FILE
    if not path.is_file():
        raise DataError(f"model {model_ref!r} was registered without its training frame",
                        field="reference_model",
                        fix="pass --reference with the training frame (CSV or Parquet)")
    return pd.read_parquet(path)
