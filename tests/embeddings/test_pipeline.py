"""Train → MLflow run → register → evaluate → serve, on a tiny travel home."""

import mlflow
import pandas as pd
import pytest

from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.embeddings.pipeline import (
    EmbeddingTrainConfig,
    evaluate,
    load_bundle,
    make_model,
    train,
)
from recstack.errors import ConfigError, NotFoundError
from recstack.registry.models import ModelRegistry
from recstack.settings import Settings

FAST = {"dim": "8", "epochs": "2"}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("emb") / "home")
    generate_travel(TravelConfig(n_users=150, n_products=100, n_countries=3, seed=2)).write(
        settings.data_home / "travel")
    result = train(EmbeddingTrainConfig(model="meta-prod2vec", params=FAST), settings,
                   progress=False)
    ModelRegistry(settings).promote(result.version.name, result.version.version, "champion")
    return settings, result


def test_training_registers_a_version_with_validation_metrics(home):
    _, result = home
    assert result.version.name == "travel-similar-items"
    tags = result.version.tags
    assert tags["model_type"] == "meta-prod2vec" and tags["index"] == "usearch"
    assert tags["kind"] == "embeddings"
    assert 0 <= float(tags["valid_hr_at_10"]) <= 1
    run = mlflow.get_run(result.run_id)
    assert "valid_cold_n_rows" in run.data.metrics and run.data.params["config.dim"] == "8"
    artifacts = [a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id)]
    assert "projection.png" in artifacts and "scoring_selection.json" in artifacts


def test_scoring_is_chosen_on_validation_and_recorded(home):
    _, result = home
    run = mlflow.get_run(result.run_id)
    chosen = {k: float(run.data.params[f"chosen_{k}"]) for k in (
        "score_meta_query", "score_meta_candidate", "score_shrink", "score_popularity")}
    # the registered model scores with the chosen point, against baselines fitted beside it
    assert {k: getattr(result.model.config, k) for k in chosen} == chosen
    assert "scoring_ref_itemknn_hr_at_10" in run.data.metrics
    assert "scoring_ref_prod2vec_hr_at_10" in run.data.metrics
    selection = mlflow.artifacts.load_dict(f"runs:/{result.run_id}/scoring_selection.json")
    assert selection["rule"] == "balanced" and len(selection["grid"]) > 100
    # where the chosen point trails a baseline, the run says so (tag, and a logged warning)
    tag = run.data.tags.get("scoring_behind_references")
    assert (tag.split(",") if tag else []) == selection["behind_references"]


def test_fixed_scoring_keeps_the_configured_values(home):
    settings, _ = home
    result = train(EmbeddingTrainConfig(model="meta-prod2vec", scoring="fixed",
                                        params={**FAST, "score_shrink": "7"}),
                   settings, register=False, progress=False)
    assert result.model.config.score_shrink == 7.0
    assert result.model.config.score_popularity == 0.0
    with pytest.raises(ConfigError) as err:
        EmbeddingTrainConfig(scoring="best")
    assert err.value.field == "scoring"


def test_evaluate_scores_test_rows_and_tags_the_version(home):
    settings, result = home
    metrics = evaluate("travel-similar-items@champion", settings, progress=False)
    assert metrics["n_rows"] > 0 and 0 <= metrics["hr_at_10"] <= 1
    info = ModelRegistry(settings).get("travel-similar-items", version=result.version.version)
    assert float(info.tags["test_hr_at_10"]) == pytest.approx(metrics["hr_at_10"], abs=1e-5)


def test_registered_bundle_and_pyfunc_agree(home):
    settings, _ = home
    bundle, _ = load_bundle("travel-similar-items@champion", settings)
    item = bundle.items["item_id"].iat[3]
    expected = [s.item_id for s in bundle.similar(item, 4)]
    model = mlflow.pyfunc.load_model("models:/travel-similar-items@champion")
    out = model.predict(pd.DataFrame({"item_id": [item], "k": [4]}))
    assert out["item_id"].tolist() == expected and out["rank"].tolist() == [1, 2, 3, 4]


def test_unknown_models_and_parameters_are_config_errors(home):
    settings, _ = home
    with pytest.raises(ConfigError) as err:
        make_model("word2vec")
    assert "meta-prod2vec" in (err.value.fix or "")
    with pytest.raises(ConfigError) as err:
        make_model("meta-prod2vec", {"windw": "3"})
    assert err.value.field == "windw"
    with pytest.raises(ConfigError, match="no vectors"):
        train(EmbeddingTrainConfig(model="itemknn"), settings, progress=False)
    with pytest.raises(NotFoundError):
        load_bundle("travel-similar-items@nope", settings)


def test_itemknn_trains_without_registering(home):
    settings, _ = home
    result = train(EmbeddingTrainConfig(model="itemknn"), settings, register=False,
                   progress=False)
    assert result.version is None and result.valid["hr_at_10"] > 0
