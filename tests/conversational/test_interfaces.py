"""``recstack chat build|ask``, ``POST /v1/chat`` and the demo step, over the built graph."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from recstack.errors import ConfigError, NotFoundError
from recstack.settings import Settings

QUESTION = "제주시 한림읍에 있는 카페 중 30대 이용 비중이 가장 높은 곳은?"


@pytest.fixture()
def cli_env(chat_settings, monkeypatch):
    from recstack.settings import get_settings

    monkeypatch.setenv("RECSTACK_HOME", str(chat_settings.home))
    monkeypatch.setenv("RECSTACK_DATA__SHARED_DIR", str(chat_settings.shared_data_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_build_is_idempotent_and_ask_prints_json(cli_env):
    from recstack.cli import build_app

    runner = CliRunner()
    built = runner.invoke(build_app(), ["chat", "build", "--no-vectors"], env={"COLUMNS": "200"})
    assert built.exit_code == 0 and "nothing changed" in built.output, built.output
    asked = runner.invoke(build_app(), ["chat", "ask", QUESTION, "--format", "json"])
    assert asked.exit_code == 0, asked.output
    body = json.loads(asked.output)
    assert body["answer"] == ["벌크커피한림점"] and "MATCH" in body["cypher"]
    assert body["reasons"][0].startswith("벌크커피한림점")
    text = runner.invoke(build_app(), ["chat", "ask", QUESTION], env={"COLUMNS": "200"})
    assert text.exit_code == 0 and "1. 벌크커피한림점" in text.output
    bad = runner.invoke(build_app(), ["chat", "ask", QUESTION, "--format", "xml"])
    assert isinstance(bad.exception, ConfigError) and bad.exception.field == "--format"


def test_chat_over_http_logs_every_answer(chat_settings):
    from recstack.api.main import create_app
    from recstack.monitoring.labels import prediction_frame

    with TestClient(create_app(chat_settings)) as client:
        answered = client.post("/v1/chat", json={"question": QUESTION})
        assert answered.status_code == 200, answered.text
        body = answered.json()
        assert body["answer"] == ["벌크커피한림점"] and body["reasons"]
        assert answered.headers["X-Request-ID"] == body["request_id"]
        unknown = client.post("/v1/chat", json={"question": "노형동 라멘집 중 30대 비중 높은 곳"})
        assert unknown.status_code == 422 and unknown.json()["field"] == "category"
        for bad in ({"question": ""}, {"question": "  "}, {"question": "가" * 301}, {}):
            refused = client.post("/v1/chat", json=bad)
            assert refused.status_code == 422 and refused.json()["field"] == "question", bad
        log = client.app.state.service.prediction_log
        log.flush()
        logged = prediction_frame(log.store, "chat-template-parser")
        assert logged["output_prediction"].tolist() == ["벌크커피한림점"]


def test_chat_without_a_graph_says_build_it(tmp_path):
    from recstack.api.main import create_app

    settings = Settings(home=tmp_path / "home")
    with TestClient(create_app(settings)) as client:
        missing = client.post("/v1/chat", json={"question": QUESTION})
    assert missing.status_code == 404
    assert "recstack chat build" in missing.json()["fix"]


def test_open_graph_without_build_raises(tmp_path):
    from recstack.conversational.graph import open_graph

    with pytest.raises(NotFoundError, match="recstack chat build"):
        open_graph(Settings(home=tmp_path / "home"))


def test_demo_step_builds_and_answers(chat_settings):
    from recstack.conversational.demo import run

    console = Console(record=True, width=200)
    outcome = run(chat_settings, console)
    shown = console.export_text()
    assert "up to date" in shown and "A: 벌크커피한림점" in shown
    assert "A: 샤브마니아제주노형점" in shown
    assert "/v1/chat" in outcome.examples[0]


def test_demo_step_skips_without_data(tmp_path):
    from recstack.conversational.demo import run

    settings = Settings(home=tmp_path / "home", data={"shared_dir": tmp_path / "none"})
    console = Console(record=True, width=200)
    assert run(settings, console).summary.startswith("skipped")
    assert "RECSTACK_DATA__SHARED_DIR" in console.export_text()
