"""The item-embeddings system's plug into the spine (see :mod:`recstack.system`)."""

from __future__ import annotations

from pydantic import Field

from recstack.system import DemoStep, ModelKind, SystemSettings, SystemSpec


class EmbeddingsSettings(SystemSettings):
    """``RECSTACK_EMBEDDINGS__*``: "viewed together" items."""

    default_model: str | None = Field(
        "travel-similar-items@champion",
        description="registered embeddings model served when a request names none")


SIMILAR_ITEMS = ModelKind(
    name="embeddings",
    loader="recstack.embeddings.bundle:SimilarItemsBundle.load",
    metrics=("valid_hr_at_10", "valid_ndcg_at_10", "valid_cold_hr_at_10", "test_hr_at_10"),
    # Versions registered before the ``kind`` tag; item-kNN is never registered (no vectors).
    model_types=("meta-prod2vec", "prod2vec", "prod2vec-torch"),
    pyfunc="recstack.embeddings.pyfunc_model",
)

SPEC = SystemSpec(
    name="embeddings",
    summary="Item embeddings (Prod2Vec, Meta-Prod2Vec) behind 'viewed together'.",
    settings=EmbeddingsSettings,
    model_kinds=(SIMILAR_ITEMS,),
    router="recstack.embeddings.router:router",
    cli="recstack.embeddings.cli:app",
    demo=DemoStep(title="'viewed together' embeddings", run="recstack.embeddings.demo:run",
                  order=20),
)
