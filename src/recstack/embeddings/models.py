"""The embedding models by name: ``@register_embedding_model("prod2vec")`` above a builder in
the model's own file, looked up by the name the training config and the registered version's
``model_type`` tag carry.

This module imports no model (nor torch): the built-in model files are imported on the first
lookup, so that ``import recstack.embeddings`` and the service stay light until a model is
needed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recstack.plugins import PluginTable

# Built-in model files; each registers its names when imported.
_BUILTIN_MODULES = ("recstack.embeddings.prod2vec", "recstack.embeddings.meta_prod2vec",
                    "recstack.embeddings.itemknn")

Builder = Callable[[dict[str, Any], "str | None"], Any]


@dataclass(frozen=True)
class EmbeddingModel:
    """One registered embedding model.

    Attributes:
        name: the short name (``--model``, the ``model_type`` tag).
        build: ``(overrides, dataset) -> unfitted estimator``; checks the override names.
        vectors: whether the fitted model has item vectors, i.e. can be registered and served
            as a "viewed together" bundle (item-kNN is an evaluation baseline without).
    """

    name: str
    build: Builder
    vectors: bool = True


_MODELS: PluginTable[EmbeddingModel] = PluginTable("embedding model", field="model")


def register_embedding_model(name: str, *, vectors: bool = True) -> Callable[[Builder], Builder]:
    """Decorator on a builder ``(overrides, dataset) -> estimator``: make it ``name``."""
    def decorate(build: Builder) -> Builder:
        _MODELS.add(name, EmbeddingModel(name, build, vectors))
        return build
    return decorate


def _load_builtin() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def embedding_model(name: str) -> EmbeddingModel:
    """The model registered as ``name``; a ``ConfigError`` listing the known names otherwise."""
    _load_builtin()
    return _MODELS.get(name)


def embedding_models(*, vectors: bool | None = None) -> list[str]:
    """Registered names; ``vectors=True`` keeps those that can be served as a bundle."""
    _load_builtin()
    return [name for name, model in sorted(_MODELS.as_dict().items())
            if vectors is None or model.vectors == vectors]
