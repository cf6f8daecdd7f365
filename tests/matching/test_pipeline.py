"""The matching lifecycle: train → register (kind, validation metrics, reference) → evaluate →
predict, from the library, the CLI and over HTTP, with bad input answered naming the field."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recstack.errors import DataError
from recstack.registry.models import ModelRegistry
from recstack.settings import Settings

NAME = "place-matcher"
LEFT = {"name": "Bellefield Presbyterian Church", "lat": 40.44364, "lon": -79.95672}
RIGHT = {"name": "Bellefield Presbyterian Church", "lat": 40.4436, "lon": -79.95675,
         "address": "4001 5th Ave, Thackery St", "postal_code": "15213"}
FAR = {"name": "Carnegie Station", "lat": 40.4059, "lon": -80.0909}


@pytest.fixture(scope="module")
def match_home(tmp_path_factory, geo_files, geo_pairs):
    from recstack.matching.pipeline import MatchTrainConfig, evaluate, train

    settings = Settings(home=tmp_path_factory.mktemp("matching") / "home")
    pairs = (geo_pairs["train"], geo_pairs["valid"])
    rule = train(MatchTrainConfig(geo_files["train"], geo_files["valid"], model="thresholds"),
                 settings, pairs=pairs)
    gbm = train(MatchTrainConfig(geo_files["train"], geo_files["valid"], model="gbm",
                                 params={"max_iter": 100}), settings, pairs=pairs)
    test = evaluate(f"{NAME}/2", geo_files["test"], settings)
    ModelRegistry(settings).promote_best(NAME, "valid_f1")
    return settings, rule, gbm, test


def test_versions_carry_kind_validation_and_test_metrics(match_home):
    settings, rule, gbm, test = match_home
    versions = {v.version: v for v in ModelRegistry(settings).list(NAME)}
    assert versions["1"].tags["kind"] == "matching" and versions["1"].model_type == "thresholds"
    assert float(versions["2"].tags["valid_f1"]) == pytest.approx(gbm.valid["f1"], abs=1e-5)
    assert float(versions["2"].tags["test_f1"]) == pytest.approx(test["f1"], abs=1e-5)
    assert 0.8 < test["f1"] <= 1 and test["pairs_per_second"] > 100
    champion = ModelRegistry(settings).get(NAME, alias="champion")
    better = "1" if rule.valid["f1"] > gbm.valid["f1"] else "2"
    assert champion.version == better  # chosen on validation, never on test
    assert set(gbm.bundle.reference.columns) >= {"name_token_set", "distance_m", "prediction",
                                                 "label"}


def test_cli_train_evaluate_predict(match_home, geo_files, tmp_path, monkeypatch):
    from recstack.cli import build_app
    from recstack.settings import get_settings

    settings = match_home[0]
    monkeypatch.setenv("RECSTACK_HOME", str(settings.home))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        trained = runner.invoke(build_app(), [
            "match", "train", "--pairs", str(geo_files["train"]), "--valid",
            str(geo_files["valid"]), "--model", "thresholds", "--name", "cli-matcher",
            "--promote", "champion"], env={"COLUMNS": "200"})
        assert trained.exit_code == 0, trained.output
        assert "registered cli-matcher version 1" in trained.output
        evaluated = runner.invoke(build_app(), ["match", "evaluate", "--model",
                                                "cli-matcher@champion", "--pairs",
                                                str(geo_files["test"])])
        assert evaluated.exit_code == 0 and "f1" in evaluated.output, evaluated.output
        unlabelled = tmp_path / "unlabelled.txt"
        with gzip.open(geo_files["test"], "rt", encoding="utf-8") as source:
            lines = [next(source).rsplit("\t", 1)[0] for _ in range(5)]
        unlabelled.write_text("\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n")
        out = tmp_path / "preds.csv"
        predicted = runner.invoke(build_app(), ["match", "predict", "--model", "cli-matcher",
                                                "--pairs", str(unlabelled), "--out", str(out)])
        assert predicted.exit_code == 0, predicted.output
        frame = pd.read_csv(out)
        assert list(frame.columns) == ["pair", "score", "match"]
        assert frame["pair"].tolist() == [0, 1, 3, 4, 5]  # line indexes: line 2 is blank
        assert set(frame["match"]) <= {0, 1} and frame["score"].between(0, 1).all()
        assert ((frame["score"] >= 0.5) == (frame["match"] == 1)).all()
        bad = runner.invoke(build_app(), ["match", "evaluate", "--model", "cli-matcher",
                                          "--pairs", str(unlabelled)])
        # main() prints RecstackErrors without a traceback; build_app() lets them through.
        assert isinstance(bad.exception, DataError) and "no label column" in str(bad.exception)
    finally:
        get_settings.cache_clear()


def test_match_over_http_logs_every_decision(match_home):
    from recstack.api.main import create_app
    from recstack.monitoring.labels import prediction_frame

    settings = match_home[0]
    with TestClient(create_app(settings)) as client:
        same = client.post("/v1/places/match", json={"left": LEFT, "right": RIGHT})
        assert same.status_code == 200, same.text
        body = same.json()
        assert body["match"] is True and body["score"] >= 0.5
        assert same.headers["X-Request-ID"] == body["request_id"]
        other = client.post("/v1/places/match", json={"left": LEFT, "right": FAR,
                                                      "model": f"{NAME}/1"})
        assert other.status_code == 200 and other.json()["match"] is False, other.text
        unlocated = client.post("/v1/places/match", json={
            "left": {"name": LEFT["name"]}, "right": {"name": RIGHT["name"]}})
        assert unlocated.status_code == 200, unlocated.text
        log = client.app.state.service.prediction_log
        log.flush()
        logged = prediction_frame(log.store, NAME)
        assert len(logged) == 3 and set(logged["output_prediction"]) == {0, 1}


@pytest.mark.parametrize(("body", "field"), [
    ({"left": {"name": ""}, "right": RIGHT}, "left.name"),
    ({"left": {"name": "   "}, "right": RIGHT}, "left.name"),
    ({"left": LEFT, "right": {**RIGHT, "lat": 91}}, "right.lat"),
    ({"left": LEFT, "right": {**RIGHT, "lon": -181}}, "right.lon"),
    ({"left": {"name": "A", "lat": 1.0}, "right": RIGHT}, "left"),
    ({"left": LEFT}, "right"),
    ({"left": LEFT, "right": RIGHT, "extra": 1}, "extra"),
])
def test_bad_requests_are_422_naming_the_field(match_home, body, field):
    from recstack.api.main import create_app

    with TestClient(create_app(match_home[0])) as client:
        response = client.post("/v1/places/match", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field, response.json()
    assert "Traceback" not in response.text


def test_mlflow_pyfunc_scores_serialised_pairs(match_home):
    import mlflow

    settings = match_home[0]
    ModelRegistry(settings)  # points mlflow at this home's store
    model = mlflow.pyfunc.load_model(f"models:/{NAME}/2")
    frame = pd.DataFrame({
        "left": ["COL name VAL Bellefield Presbyterian Church COL latitude VAL 40.44364 "
                 "COL longitude VAL -79.95672"] * 2,
        "right": ["COL name VAL Bellefield Presbyterian Church COL latitude VAL 40.4436 "
                  "COL longitude VAL -79.95675",
                  "COL name VAL Carnegie Station COL latitude VAL 40.4059 "
                  "COL longitude VAL -80.0909"]})
    out = model.predict(frame)
    assert list(out.columns) == ["score", "match"] and out["match"].tolist() == [1, 0]
