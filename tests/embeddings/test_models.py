"""The embedding-model plugin table: every model is found by the name it registered."""

from __future__ import annotations

import pytest

from recstack.embeddings import (
    CoViewItemKNN,
    MetaProd2Vec,
    Prod2Vec,
    embedding_model,
    embedding_models,
)
from recstack.embeddings.pipeline import make_model
from recstack.embeddings.system import SIMILAR_ITEMS
from recstack.errors import ConfigError
from recstack.registry.models import ModelVersionInfo


def test_the_built_in_models_register_by_name_and_say_which_have_vectors():
    assert embedding_models() == ["itemknn", "meta-prod2vec", "prod2vec", "prod2vec-torch"]
    assert embedding_models(vectors=True) == ["meta-prod2vec", "prod2vec", "prod2vec-torch"]
    assert isinstance(make_model("itemknn", {"window": "3"}), CoViewItemKNN)
    assert isinstance(make_model("prod2vec"), Prod2Vec)
    meta = make_model("meta-prod2vec", dataset="travel")
    plain = make_model("prod2vec-torch", dataset="travel")
    assert isinstance(meta, MetaProd2Vec) and isinstance(plain, MetaProd2Vec)
    # Same trainer, different presets: Prod2Vec-on-torch ignores the metadata.
    assert meta.get_params() != plain.get_params()


def test_an_unknown_model_lists_the_registered_ones():
    with pytest.raises(ConfigError) as caught:
        embedding_model("word2vec")
    assert caught.value.field == "model"
    assert caught.value.fix == "use one of: itemknn, meta-prod2vec, prod2vec, prod2vec-torch"


def test_serving_accepts_exactly_the_models_with_vectors():
    """The model kind's legacy list (versions registered before the ``kind`` tag) is exactly the
    registered models that have item vectors: a new model with vectors cannot be forgotten."""
    assert sorted(SIMILAR_ITEMS.model_types) == embedding_models(vectors=True)
    for name in embedding_models(vectors=True):
        assert SIMILAR_ITEMS.matches(ModelVersionInfo("m", "1", [], None,
                                                      {"model_type": name}).tags)
    for name in ("itemknn", "sasrec"):
        assert not SIMILAR_ITEMS.matches({"model_type": name})
