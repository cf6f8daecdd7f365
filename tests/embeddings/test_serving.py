"""The service's bundle cache: the project's shared VersionCache, loading embedding bundles."""

import pytest

from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.embeddings import SimilarItemsBundle
from recstack.embeddings.pipeline import EmbeddingTrainConfig, train
from recstack.embeddings.serving import require_similar_items_model, similar_items_cache
from recstack.errors import NotFoundError
from recstack.registry.models import ModelRegistry, ModelVersionInfo
from recstack.settings import Settings


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
    registry.client.set_model_version_tag(first.name, first.version, "model_type", "sasrec")
    with pytest.raises(NotFoundError) as err:
        similar_items_cache(settings).get(f"{first.name}/{first.version}")
    assert err.value.field == "model"


@pytest.mark.parametrize(("model_type", "accepted"), [
    ("meta-prod2vec", True), ("prod2vec", True), ("itemknn", False), ("sasrec", False)])
def test_only_embedding_models_are_served(model_type, accepted):
    info = ModelVersionInfo("m", "1", [], None, tags={"model_type": model_type})
    if accepted:
        require_similar_items_model(info, "m/1")
    else:
        with pytest.raises(NotFoundError, match="not a viewed-together model"):
            require_similar_items_model(info, "m/1")
