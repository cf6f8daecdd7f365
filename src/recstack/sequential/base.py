"""What every next-item recommender offers, and the registry that names them.

A recommender is fitted on training sequences of internal item ids (1..n_items, 0 = padding)
and scores the whole catalogue for a batch of histories. Persisted models carry only their
short registered name (``model_type``) and their config, never an import path.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import numpy as np
import pandas as pd

from recstack.configs import build_config, config_from_dict
from recstack.data.splits import EvalSet
from recstack.errors import NotFoundError
from recstack.evaluation.ranking import mask_items, top_k
from recstack.plugins import PluginTable

_MODELS: PluginTable[type[Recommender]] = PluginTable("model", field="model", error=NotFoundError)
R = TypeVar("R", bound="type[Recommender]")


def register_model(name: str):
    """Class decorator: make a recommender buildable by its short name."""

    def wrap(cls: R) -> R:
        cls.model_type = name
        _MODELS.add(name, cls)
        return cls

    return wrap


def _load_builtin_models() -> None:
    # The built-in models register when their package is imported; that imports torch, so it
    # happens on the first lookup, not when recstack.sequential is imported.
    importlib.import_module("recstack.sequential.models")


def model_class(name: str) -> type[Recommender]:
    """The class registered as ``name``; the error lists the known names."""
    _load_builtin_models()
    return _MODELS.get(name)


def available_models() -> list[str]:
    _load_builtin_models()
    return _MODELS.names()


@dataclass
class FitContext:
    """What a model may use while fitting beyond the training sequences."""

    valid: EvalSet | None = None  # validation rows, for early stopping
    item_metadata: pd.DataFrame | None = None  # indexed by internal id 1..n_items
    on_epoch: Callable[[Any], None] | None = None  # called with each epoch's record
    progress: bool = True  # show progress bars


class Recommender(ABC):
    """Base class: scikit-learn habits (``fit`` returns self, learned state ends in ``_``)."""

    model_type: ClassVar[str] = ""
    Config: ClassVar[type]  # the model's config dataclass; every field has a default

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()

    @abstractmethod
    def fit(self, sequences: list[np.ndarray], n_items: int,
            context: FitContext | None = None) -> Self:
        """Learn from training sequences of internal item ids."""

    @abstractmethod
    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Scores (B, n_items + 1) for a batch of histories; column 0 is padding."""

    @abstractmethod
    def _save_state(self, directory: Path) -> None: ...

    @abstractmethod
    def _load_state(self, directory: Path) -> None: ...

    def recommend(self, histories: list[np.ndarray], k: int, *, exclude_seen: bool = True,
                  allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k internal item ids and scores per history, best first.

        Args:
            histories: internal item ids per row.
            k: number of items per row.
            exclude_seen: never return an item already in the row's history.
            allowed: optional boolean mask (n_items + 1,) of items that may be returned.
        """
        scores = self.score(histories).astype(np.float32, copy=False)  # (B, I+1)
        if exclude_seen:
            mask_items(scores, histories)
        else:
            scores[:, 0] = -np.inf
        if allowed is not None:
            scores[:, ~allowed] = -np.inf
        return top_k(scores, k)

    def save(self, directory: Path) -> None:
        """Write ``model.json`` (type and config) and the learned state into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"model_type": self.model_type, "config": dataclasses.asdict(self.config)}
        (directory / "model.json").write_text(json.dumps(meta, indent=2))
        self._save_state(directory)

    @classmethod
    def from_params(cls, params: dict[str, Any] | None = None) -> Self:
        """Build with the default config updated by ``params`` (names and types checked)."""
        return cls(build_config(cls.Config, params))

    @classmethod
    def load(cls, directory: Path) -> Recommender:
        """Rebuild any registered recommender from a directory written by ``save``."""
        meta = json.loads((directory / "model.json").read_text())
        model_cls = model_class(meta["model_type"])
        model = model_cls(config_from_dict(model_cls.Config, meta["config"]))
        model._load_state(directory)
        return model
