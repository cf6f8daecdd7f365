"""Co-view item embeddings: Prod2Vec, Meta-Prod2Vec and an item-kNN baseline.

Served as "viewed together" items (``GET /v1/items/{item_id}/similar``). Names load lazily:
importing this package imports neither torch nor gensim; using a model does.
"""

from typing import TYPE_CHECKING

from recstack._lazy import lazy_exports

# ruff: noqa: F401 - these imports are the re-exports, for type checkers; ruff cannot read
# the __all__ that lazy_exports computes.
if TYPE_CHECKING:
    from recstack.embeddings.bundle import SimilarItem, SimilarItemsBundle
    from recstack.embeddings.evaluation import evaluate_next_view
    from recstack.embeddings.index import VectorIndex, available_indexes, index_class
    from recstack.embeddings.itemknn import CoViewItemKNN, CoViewItemKNNConfig
    from recstack.embeddings.meta_prod2vec import MetaProd2Vec, MetaProd2VecConfig
    from recstack.embeddings.models import (
        EmbeddingModel,
        embedding_model,
        embedding_models,
        register_embedding_model,
    )
    from recstack.embeddings.prod2vec import Prod2Vec, Prod2VecConfig
    from recstack.embeddings.scoring import ScoringGrid, ScoringPoint, select_scoring
    from recstack.embeddings.sessions import (
        CoViewSplit,
        cold_rows,
        load_corpus,
        metadata_tokens,
        next_view_split,
        sessionize,
        sessions_dataset,
    )

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "bundle": ["SimilarItem", "SimilarItemsBundle"],
    "evaluation": ["evaluate_next_view"],
    "index": ["VectorIndex", "available_indexes", "index_class"],
    "itemknn": ["CoViewItemKNN", "CoViewItemKNNConfig"],
    "meta_prod2vec": ["MetaProd2Vec", "MetaProd2VecConfig"],
    "models": ["EmbeddingModel", "embedding_model", "embedding_models",
               "register_embedding_model"],
    "prod2vec": ["Prod2Vec", "Prod2VecConfig"],
    "scoring": ["ScoringGrid", "ScoringPoint", "select_scoring"],
    "sessions": ["CoViewSplit", "cold_rows", "load_corpus", "metadata_tokens", "next_view_split",
                 "sessionize", "sessions_dataset"],
})
