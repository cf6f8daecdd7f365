"""Next-item recommendation from click sequences: models, bundles, train and evaluate."""

from recstack.sequential.base import Recommender, available_models, model_class, register_model
from recstack.sequential.bundle import Recommendation, RecommenderBundle
from recstack.sequential.pipeline import TrainConfig, TrainResult, evaluate, load_bundle, train

__all__ = [
    "Recommendation",
    "Recommender",
    "RecommenderBundle",
    "TrainConfig",
    "TrainResult",
    "available_models",
    "evaluate",
    "load_bundle",
    "model_class",
    "register_model",
    "train",
]
