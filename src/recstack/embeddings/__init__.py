"""Co-view item embeddings: Prod2Vec, Meta-Prod2Vec and an item-kNN baseline.

Served as "viewed together" items (``GET /v1/items/{item_id}/similar``).
"""

from recstack.embeddings.bundle import SimilarItem, SimilarItemsBundle
from recstack.embeddings.evaluation import evaluate_next_view
from recstack.embeddings.index import VectorIndex, available_indexes, index_class
from recstack.embeddings.itemknn import CoViewItemKNN, CoViewItemKNNConfig
from recstack.embeddings.meta_prod2vec import MetaProd2Vec, MetaProd2VecConfig
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

__all__ = [
    "CoViewItemKNN",
    "CoViewItemKNNConfig",
    "CoViewSplit",
    "MetaProd2Vec",
    "MetaProd2VecConfig",
    "Prod2Vec",
    "Prod2VecConfig",
    "ScoringGrid",
    "ScoringPoint",
    "SimilarItem",
    "SimilarItemsBundle",
    "VectorIndex",
    "available_indexes",
    "cold_rows",
    "evaluate_next_view",
    "index_class",
    "load_corpus",
    "metadata_tokens",
    "next_view_split",
    "select_scoring",
    "sessionize",
    "sessions_dataset",
]
