"""Co-view item embeddings: Prod2Vec, Meta-Prod2Vec and an item-kNN baseline.

Served as "viewed together" items.
"""
