"""The service's bundle cache: the spine's VersionCache with the embeddings' model kind."""

import pytest

from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.embeddings import SimilarItemsBundle
from recstack.embeddings.pipeline import EmbeddingTrainConfig, train
from recstack.embeddings.system import SIMILAR_ITEMS
from recstack.errors import NotFoundError
from recstack.registry.models import ModelRegistry, ModelVersionInfo
from recstack.serving import VersionCache
from recstack.settings import Settings


def similar_items_cache(settings: Settings) -> VersionCache[SimilarItemsBundle]:
    return VersionCache(settings, SIMILAR_ITEMS.load, kind=SIMILAR_ITEMS,
                        default_ref="travel-similar-items@champion")


def _register(settings: Settings) -> ModelVersionInfo:
    result = train(EmbeddingTrainConfig(params={"dim": "8", "epochs": "1"}), settings,
                   progress=False)
    assert result.version is not None
    ModelRegistry(settings).promote(result.version.name, result.version.version, "champion")
    return result.version


def test_cache_loads_once_and_follows_a_promoted_champion(tmp_path):
    settings = Settings(home=tmp_path / "home")
    settings.serving.alias_refresh_seconds = 0.0  # re-resolve the alias on every request
    generate_travel(TravelConfig(n_users=120, n_products=80, n_countries=2, seed=5)).write(
        settings.data_home / "travel")
    first = _register(settings)
    cache = similar_items_cache(settings)
    bundle, info, alias = cache.get(None)  # the default: travel-similar-items@champion
    assert isinstance(bundle, SimilarItemsBundle)
    assert (info.version, alias) == (first.version, "champion")
    assert cache.get(None)[0] is bundle  # downloaded and loaded once
    second = _register(settings)
    newer, info, _ = cache.get(None)
    assert info.version == second.version != first.version and newer is not bundle
    # A version of another kind is refused before it is downloaded, naming the field.
    registry = ModelRegistry(settings)
    registry.client.set_model_version_tag(first.name, first.version, "kind", "sequential")
    with pytest.raises(NotFoundError) as err:
        similar_items_cache(settings).get(f"{first.name}/{first.version}")
    assert err.value.field == "model"


@pytest.mark.parametrize(("tags", "accepted"), [
    ({"model_type": "meta-prod2vec"}, True), ({"model_type": "prod2vec"}, True),
    ({"model_type": "itemknn"}, False), ({"model_type": "sasrec"}, False),
    ({"model_type": "sasrec", "kind": "embeddings"}, True),  # the kind tag decides
    ({"model_type": "prod2vec", "kind": "sequential"}, False)])
def test_only_embedding_models_are_served(tags, accepted):
    info = ModelVersionInfo("m", "1", [], None, tags=tags)
    assert SIMILAR_ITEMS.matches(info.tags) is accepted
