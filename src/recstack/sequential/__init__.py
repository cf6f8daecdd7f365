"""Next-item recommendation from click sequences: models, bundles, train and evaluate.

Names load lazily: importing this package imports neither torch nor the models; the first
``model_class``/``train`` does.
"""

from typing import TYPE_CHECKING

from recstack._lazy import lazy_exports

# ruff: noqa: F401 - these imports are the re-exports, for type checkers; ruff cannot read
# the __all__ that lazy_exports computes.
if TYPE_CHECKING:
    from recstack.sequential.base import (
        Recommender,
        available_models,
        model_class,
        register_model,
    )
    from recstack.sequential.bundle import Recommendation, RecommenderBundle
    from recstack.sequential.pipeline import (
        TrainConfig,
        TrainResult,
        evaluate,
        load_bundle,
        train,
    )

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "base": ["Recommender", "available_models", "model_class", "register_model"],
    "bundle": ["Recommendation", "RecommenderBundle"],
    "pipeline": ["TrainConfig", "TrainResult", "evaluate", "load_bundle", "train"],
})
