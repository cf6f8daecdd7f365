"""The NLU lifecycle: train → register (kind, metrics, monitoring reference) → evaluate → parse
from the CLI and over HTTP, with bad input answered by errors that name the field."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recstack.errors import DataError
from recstack.registry.models import ModelRegistry
from recstack.settings import Settings


@pytest.fixture(scope="module")
def nlu_home(tmp_path_factory, shared_data):
    from recstack.nlu.data import make_splits
    from recstack.nlu.pipeline import NLUTrainConfig, evaluate, train

    settings = Settings(home=tmp_path_factory.mktemp("nlu") / "home",
                        data={"shared_dir": shared_data})
    splits = make_splits(seed=0, sizes=(600, 100, 150), shared_dir=shared_data)
    strict = train(NLUTrainConfig(model="rules", gazetteer="train"), settings, splits=splits)
    full = train(NLUTrainConfig(model="rules", params={"min_intent_score": "1.5"}), settings,
                 splits=splits)
    test = evaluate("travel-nlu/2", settings, splits=splits)
    ModelRegistry(settings).promote("travel-nlu", full.version.version, "champion")
    return settings, splits, strict, full, test


def test_versions_carry_kind_metrics_and_the_gazetteer_choice(nlu_home):
    settings, _, strict, full, test = nlu_home
    versions = {v.version: v for v in ModelRegistry(settings).list("travel-nlu")}
    assert versions["1"].tags["kind"] == "nlu" and versions["1"].tags["gazetteer"] == "train"
    assert versions["2"].tags["gazetteer"] == "full"
    assert float(versions["2"].tags["valid_entity_f1"]) == pytest.approx(
        full.valid["entity_f1"], abs=1e-5)
    assert float(versions["2"].tags["test_entity_f1"]) == pytest.approx(test["entity_f1"],
                                                                         abs=1e-5)
    # Held-out places are unknown to the strict model: its entity recall is far lower.
    assert full.valid["entity_recall"] > strict.valid["entity_recall"] + 0.2
    assert full.valid["intent_accuracy"] > 0.6


def test_a_model_fitted_elsewhere_is_registered_with_its_own_scores(tmp_path, shared_data):
    from recstack.errors import ConfigError
    from recstack.nlu.data import make_splits
    from recstack.nlu.pipeline import NLUTrainConfig, gazetteer_for, score, train
    from recstack.nlu.rules import RulesNLU

    settings = Settings(home=tmp_path / "home", data={"shared_dir": shared_data})
    splits = make_splits(seed=0, sizes=(300, 60, 60), shared_dir=shared_data)
    model = RulesNLU(gazetteer=gazetteer_for(NLUTrainConfig(model="rules"), splits, settings))
    model.fit(splits.train)
    model.save(tmp_path / "fitted")
    result = train(NLUTrainConfig(model="rules", saved=str(tmp_path / "fitted")), settings,
                   splits=splits)
    assert result.valid == pytest.approx(score(model, splits.valid))
    version = ModelRegistry(settings).list("travel-nlu")[0]
    assert float(version.tags["valid_entity_f1"]) == pytest.approx(result.valid["entity_f1"],
                                                                    abs=1e-5)
    with pytest.raises(ConfigError) as err:
        train(NLUTrainConfig(model="rules", saved=str(tmp_path / "nowhere")), settings,
              splits=splits)
    assert err.value.field == "saved"


def test_the_bundle_carries_monitorings_reference(nlu_home):
    from recstack.monitoring.reference import model_reference

    settings, splits, *_ = nlu_home
    reference = model_reference("travel-nlu@champion", settings)
    assert list(reference.columns) == ["n_chars", "n_entities", "prediction", "label"]
    assert len(reference) == len(splits.valid)


def test_cli_parse_text_and_jsonl(nlu_home, tmp_path, monkeypatch):
    from recstack.cli import build_app
    from recstack.settings import get_settings

    settings = nlu_home[0]
    monkeypatch.setenv("RECSTACK_HOME", str(settings.home))
    monkeypatch.setenv("RECSTACK_DATA__SHARED_DIR", str(settings.data.shared_dir))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        one = runner.invoke(build_app(), ["nlu", "parse", "홋카이도 3박4일 일정 짜줘"])
        assert one.exit_code == 0, one.output
        parsed = json.loads(one.output.strip().splitlines()[-1])
        assert parsed["intent"] == "itinerary_planning"
        assert {("DURATION", "3박4일")} <= {(e["type"], e["text"]) for e in parsed["entities"]}
        source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        questions = ["다음달 오사카 날씨 어때?", "파스타 레시피 알려줘"]
        source.write_text("".join(json.dumps({"text": q}) + "\n" for q in questions))
        both = runner.invoke(build_app(), ["nlu", "parse", "--input", str(source),
                                           "--output", str(out)])
        assert both.exit_code == 0, both.output
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert [line["text"] for line in lines] == questions
        assert lines[0]["intent"] == "weather" and lines[1]["intent"] == "other"
        source.write_text('{"text": "괌 호텔"}\nnot json\n')
        bad = runner.invoke(build_app(), ["nlu", "parse", "--input", str(source)])
        # main() prints RecstackErrors without a traceback; build_app() lets them through.
        assert isinstance(bad.exception, DataError) and "line 2" in str(bad.exception)
    finally:
        get_settings.cache_clear()


def test_parse_over_http_logs_every_parse(nlu_home):
    from recstack.api.main import create_app
    from recstack.monitoring.labels import prediction_frame

    settings = nlu_home[0]
    with TestClient(create_app(settings)) as client:
        one = client.post("/v1/nlu/parse", json={"text": "가족끼리 태국 파타야 여행지 추천해줘"})
        assert one.status_code == 200, one.text
        result = one.json()["results"][0]
        assert one.headers["X-Request-ID"] == result["request_id"]
        found = {(e["type"], e["text"]) for e in result["entities"]}
        assert {("COUNTRY", "태국"), ("CITY", "파타야"), ("COMPANION", "가족")} <= found
        for e in result["entities"]:
            assert "가족끼리 태국 파타야 여행지 추천해줘"[e["start"]:e["end"]] == e["text"]
        batch = client.post("/v1/nlu/parse", json={"texts": ["괌 날씨", "What is pasta?"]})
        assert batch.status_code == 200, batch.text
        intents = [r["intent"] for r in batch.json()["results"]]
        assert intents == ["weather", "other"]
        log = client.app.state.service.prediction_log
        log.flush()
        logged = prediction_frame(log.store, "travel-nlu")
        assert len(logged) == 3 and set(logged["output_prediction"]) >= {"weather", "other"}


@pytest.mark.parametrize(("body", "field"), [
    ({"text": ""}, "text"),
    ({"text": "   "}, "text"),
    ({"text": "가" * 513}, "text"),
    ({"text": "괌\x00 호텔"}, "text"),
    ({"texts": ["괌 호텔"] * 65}, "texts"),
    ({"texts": ["괌 호텔", " "]}, "texts.1"),  # the schema names the text
    ({}, "body"),
    ({"text": "괌", "texts": ["괌"]}, "body"),
    ({"text": "괌 호텔", "model": "not a ref!"}, "model"),
])
def test_bad_requests_are_422_naming_the_field(nlu_home, body, field):
    from recstack.api.main import create_app

    with TestClient(create_app(nlu_home[0])) as client:
        response = client.post("/v1/nlu/parse", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field, response.json()
    assert "Traceback" not in response.text


def test_the_intent_distribution_is_monitored_for_drift(nlu_home):
    """A day of questions that are all about the weather: monitoring, reading the served parses
    against the bundle's reference, flags the intent distribution (prediction drift)."""
    from recstack.api.main import create_app
    from recstack.monitoring.reference import model_reference
    from recstack.monitoring.runner import MonitorJob, run_monitoring

    settings, splits, *_ = nlu_home
    weather = [e.text for e in splits.test if e.intent == "weather"][:60]
    with TestClient(create_app(settings)) as client:
        for start in range(0, len(weather), 20):
            answer = client.post("/v1/nlu/parse", json={"texts": weather[start:start + 20]})
            assert answer.status_code == 200, answer.text
    job = MonitorJob(model_name="travel-nlu", task="classification", window="1D",
                     domain_classifier=False, estimate=False)
    result = run_monitoring(job, settings, reference=model_reference("travel-nlu@champion",
                                                                     settings),
                            send_alerts=False, write_report=False)
    assert result.prediction_drift, "no prediction drift computed for the intents"
    assert result.prediction_drift["drifted"]
