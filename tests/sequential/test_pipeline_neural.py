"""A neural model end to end: train → register → evaluate → serve, on small real-shaped data."""

import pytest
from fastapi.testclient import TestClient

from recstack.api.main import create_app
from recstack.data.catalog import load_dataset
from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.evaluation import count_items, evaluate_scores
from recstack.registry.models import ModelRegistry
from recstack.sequential.models import PopularityRecommender
from recstack.sequential.pipeline import TrainConfig, evaluate, make_split, train


@pytest.fixture(scope="module")
def neural_home(tmp_path_factory):
    from recstack.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("neural") / "home")
    generate_travel(TravelConfig(n_users=300, n_products=210, seed=5)).write(
        settings.data_home / "travel")
    params = {"max_length": 20, "hidden": 32, "epochs": 4, "patience": 0,
              "metadata_fields": "city,category"}
    result = train(TrainConfig(model="sasrec", dataset="travel", params=params,
                               register_as="travel-next-item"), settings, progress=False)
    ModelRegistry(settings).promote("travel-next-item", result.version.version, "champion")
    return settings, result


def test_training_logs_per_epoch_curves_and_registers(neural_home):
    import mlflow

    settings, result = neural_home
    client = mlflow.MlflowClient(settings.tracking_uri)
    curve = client.get_metric_history(result.run_id, "epoch_valid_ndcg_at_10")
    assert [m.step for m in curve] == [1, 2, 3, 4]
    run = client.get_run(result.run_id)
    assert run.data.params["config.model.metadata_fields"] == "city,category"
    assert run.data.metrics["best_epoch"] >= 1
    # no budget: the schedule ran over the configured epochs (fewer when fitted to one)
    assert (run.data.params["configured_epochs"], run.data.params["planned_epochs"]) == ("4", "4")
    assert result.version.model_type == "sasrec"


def test_evaluation_is_separate_and_beats_popularity(neural_home):
    settings, _ = neural_home
    test = evaluate("travel-next-item@champion", settings, progress=False)
    split = make_split(load_dataset("travel", settings), "leave-one-out")
    popularity = PopularityRecommender().fit(split.train, split.n_items)
    baseline = evaluate_scores(popularity.score, split.test, split.n_items,
                               item_counts=count_items(split.train, split.n_items),
                               sampled_negatives=None, progress=False)
    assert test.metrics["ndcg_at_10"] > 2 * baseline.metrics["ndcg_at_10"]


def test_serving_the_neural_champion_with_a_city_filter(neural_home):
    settings, result = neural_home
    user = next(iter(result.bundle.histories))
    with TestClient(create_app(settings)) as client:
        body = client.post("/v1/recommendations",
                           json={"user_id": user, "k": 5, "filters": {"city": "Osaka"}}).json()
    assert body["model"]["model_type"] == "sasrec"
    assert body["items"] and all(i["metadata"]["city"] == "Osaka" for i in body["items"])
