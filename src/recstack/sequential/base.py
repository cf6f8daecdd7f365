"""What every next-item recommender offers, and the registry that names them.

A recommender is fitted on training sequences of internal item ids (1..n_items, 0 = padding)
and scores the whole catalogue for a batch of histories. Persisted models carry only their
short registered name (``model_type``) and their config, never an import path.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import numpy as np
import pandas as pd

from recstack.data.splits import EvalSet
from recstack.errors import ConfigError, NotFoundError
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


def build_config(config_cls: type, overrides: dict[str, Any] | None = None) -> Any:
    """Build a config dataclass from ``key=value`` overrides, checking names and types.

    Nested configs take dotted keys (``training.lr``); a plain key that names a field of exactly
    one nested config (``lr``) goes there. Strings (from the command line) are converted to the
    field's type.
    """
    config = config_cls()
    for key, value in (overrides or {}).items():
        config = _set_path(config, _resolve_key(config, key), value)
    return config


def config_from_dict(config_cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a (possibly nested) config dataclass from ``dataclasses.asdict`` output."""
    hints = typing.get_type_hints(config_cls)
    kwargs = {}
    for f in dataclasses.fields(config_cls):
        if f.name not in data:
            continue  # a field added since the model was saved keeps its default
        value = data[f.name]
        kind = hints.get(f.name)
        if isinstance(kind, type) and dataclasses.is_dataclass(kind) and isinstance(value, dict):
            value = config_from_dict(kind, value)
        kwargs[f.name] = value
    return config_cls(**kwargs)


def _resolve_key(config: Any, key: str) -> list[str]:
    names = {f.name for f in dataclasses.fields(config)}
    head, _, rest = key.partition(".")
    if head in names:
        inner = getattr(config, head)
        if rest:
            if not dataclasses.is_dataclass(inner):
                raise ConfigError(f"{head!r} has no sub-parameters", field=key,
                                  fix=f"write {head}=VALUE")
            return [head, *_resolve_key(inner, rest)]
        return [head]
    nested = [n for n in names if dataclasses.is_dataclass(getattr(config, n))
              and key in {f.name for f in dataclasses.fields(getattr(config, n))}]
    if len(nested) == 1:
        return [nested[0], key]
    known = sorted(_all_keys(config))
    if len(nested) > 1:
        raise ConfigError(f"{key!r} is ambiguous", field=key,
                          fix=f"write one of: {', '.join(f'{n}.{key}' for n in nested)}")
    raise ConfigError(f"unknown parameter {key!r} for {type(config).__name__}", field=key,
                      fix=f"use one of: {', '.join(known)}")


def _all_keys(config: Any, prefix: str = "") -> list[str]:
    keys = []
    for f in dataclasses.fields(config):
        inner = getattr(config, f.name)
        if dataclasses.is_dataclass(inner):
            keys += _all_keys(inner, f"{prefix}{f.name}.")
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def _set_path(config: Any, path: list[str], value: Any) -> Any:
    head = path[0]
    current = getattr(config, head)
    if len(path) > 1:
        return dataclasses.replace(config, **{head: _set_path(current, path[1:], value)})
    return dataclasses.replace(config, **{head: _coerce(head, value, type(current))})


def _coerce(key: str, value: Any, kind: type) -> Any:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    try:
        if kind is bool:
            text = str(value).lower()
            if text not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(value)
            return text in {"true", "1", "yes"}
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{value!r} is not a valid {kind.__name__}", field=key,
                          fix=f"give {key} a {kind.__name__} value") from None


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
