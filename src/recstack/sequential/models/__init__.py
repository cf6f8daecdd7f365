"""Registered next-item models; importing this package registers them all."""

from recstack.sequential.models.itemknn import ItemKNNConfig, ItemKNNRecommender
from recstack.sequential.models.popularity import PopularityConfig, PopularityRecommender

__all__ = ["ItemKNNConfig", "ItemKNNRecommender", "PopularityConfig", "PopularityRecommender"]
