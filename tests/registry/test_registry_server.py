"""The registry against a live MLflow tracking server (``mlflow server`` with its backend store
on PostgreSQL and proxied artifacts, as `.ci/run` starts it): train and register on one
"machine" (a recstack home), then, from a second home that shares nothing with the first but
the tracking URI, resolve the alias, load the model, predict and serve it over HTTP.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from recstack.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mlflow_uri() -> str:
    """The test tracking server's URI; skips when none is configured or it does not answer."""
    import httpx

    uri = os.environ.get("RECSTACK_TEST_MLFLOW_URI")
    if not uri:
        pytest.skip("no MLflow tracking server for tests: set RECSTACK_TEST_MLFLOW_URI "
                    "(.ci/run starts one on PostgreSQL)")
    try:
        httpx.get(f"{uri}/health", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.skip(f"the MLflow tracking server at {uri} does not answer: {exc}")
    return uri


def _machine(home: Path, uri: str, experiment: str, **systems: dict) -> Settings:
    """A recstack home whose tracking switch points at the server."""
    return Settings(home=home, tracking={"uri": uri, "experiment": experiment},
                    systems=systems)


def test_train_register_alias_load_and_serve_through_the_server(mlflow_uri: str,
                                                                 tmp_path: Path):
    import mlflow
    import pandas as pd
    from fastapi.testclient import TestClient

    from recstack.api.main import create_app
    from recstack.data.synthetic import TravelConfig, generate_travel
    from recstack.registry.models import ModelRegistry
    from recstack.sequential.pipeline import TrainConfig, train

    # The server outlives test runs on a developer's machine: names of this run only.
    run = uuid.uuid4().hex[:8]
    name, experiment = f"server-next-item-{run}", f"server-test-{run}"

    # Machine 1 trains, registers and promotes.
    trainer = _machine(tmp_path / "trainer", mlflow_uri, experiment)
    generate_travel(TravelConfig(n_users=200, n_products=80, n_countries=3, seed=1)).write(
        trainer.data_home / "travel")
    trained = train(TrainConfig(model="popularity", dataset="travel", register_as=name),
                    trainer, progress=False)
    assert trained.version is not None
    ModelRegistry(trainer).promote(name, trained.version.version, "champion")
    # Artifacts went to the server's store, not to this machine's home.
    assert mlflow.get_experiment_by_name(experiment).artifact_location.startswith(
        "mlflow-artifacts:")
    assert not trainer.artifact_root.exists() or not any(trainer.artifact_root.rglob("*"))

    # Machine 2 shares only the tracking URI.
    server = _machine(tmp_path / "server", mlflow_uri, experiment,
                      sequential={"default_model": f"{name}@champion"})
    champion = ModelRegistry(server).get(name, alias="champion")
    assert champion.version == trained.version.version and champion.run_id == trained.run_id
    assert champion.tags["kind"] == "sequential"
    assert float(champion.tags["valid_ndcg_at_10"]) == pytest.approx(
        trained.valid.metrics["ndcg_at_10"], abs=1e-5)

    users = ["u00001", "u00002", "u00150"]
    expected = {u: [r.item_id for r in trained.bundle.recommend(user_id=u, k=5)] for u in users}
    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    frame = model.predict(pd.DataFrame({"user_id": users, "k": [5] * 3}))
    assert {u: frame[frame["row"] == i]["item_id"].tolist() for i, u in enumerate(users)} \
        == expected

    with TestClient(create_app(server)) as client:
        for user in users:
            answer = client.post("/v1/recommendations", json={"user_id": user, "k": 5})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["model"] == {"name": name, "version": champion.version,
                                     "alias": "champion", "model_type": "popularity"}
            assert [item["item_id"] for item in body["items"]] == expected[user]
    # What the service loaded it downloaded from the server into its own home.
    assert any((server.home / "cache" / "models" / name).rglob("bundle.json"))
