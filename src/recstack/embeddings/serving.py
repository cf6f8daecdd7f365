"""Loaded "viewed together" bundles for the service: the project's shared version cache.

``recstack.api.deps.VersionCache`` re-resolves aliases every ``serving.alias_refresh_seconds``
(promoting a new champion needs no restart) and downloads and loads each version once; this
module only says how a bundle is loaded and which registered models are bundles.
"""

from __future__ import annotations

from recstack.api.deps import VersionCache
from recstack.embeddings.bundle import SimilarItemsBundle
from recstack.embeddings.models import embedding_models
from recstack.errors import NotFoundError
from recstack.registry.models import ModelVersionInfo
from recstack.settings import Settings

DEFAULT_MODEL_REF = "travel-similar-items@champion"


def require_similar_items_model(info: ModelVersionInfo, model_ref: str) -> None:
    """Reject a registered model of another kind before it is downloaded."""
    # Registered by `recstack embeddings train`: the embedding models that have item vectors
    # (item-kNN has none and is never registered). The first check imports the model files.
    if info.model_type not in embedding_models(vectors=True):
        raise NotFoundError(f"{model_ref!r} is a {info.model_type} model, not a "
                            "viewed-together model", field="model",
                            fix="name a model registered by `recstack embeddings train` "
                                "(see `recstack models list`)")


def similar_items_cache(settings: Settings) -> VersionCache[SimilarItemsBundle]:
    """A cache of bundles; ``get(None)`` serves :data:`DEFAULT_MODEL_REF`."""
    return VersionCache(settings, SimilarItemsBundle.load, default_ref=DEFAULT_MODEL_REF,
                        check=require_similar_items_model)
