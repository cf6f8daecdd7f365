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
from recstack.embeddings.serving import require_similar_items_model
from recstack.errors import ConfigError, NotFoundError
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
    for name in embedding_models(vectors=True):
        require_similar_items_model(ModelVersionInfo("m", "1", [], None, {"model_type": name}),
                                    "m@champion")
    for name in ("itemknn", "sasrec"):
        with pytest.raises(NotFoundError, match="not a viewed-together model"):
            require_similar_items_model(
                ModelVersionInfo("m", "1", [], None, {"model_type": name}), "m@champion")
