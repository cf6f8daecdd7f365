"""The system plug: a new system is its package plus one entry in recstack.systems.SYSTEMS.

tests/tiny_system/tinysys is such a package; adding it to the list must make it appear in the
CLI, the OpenAPI document, the demo plan, `recstack models list`, `/v1/models` and `/health`,
with its settings section read from RECSTACK_TINY__*, its resource opened and closed, and its
predictions logged.
"""

from __future__ import annotations

import io
import pkgutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from recstack import systems
from recstack.errors import ConfigError
from recstack.settings import Settings, get_settings

TINY = "tinysys.system:SPEC"


@pytest.fixture()
def with_tiny(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "tiny_system"))
    monkeypatch.setattr(systems, "SYSTEMS", [*systems.SYSTEMS, TINY])  # the one list entry
    monkeypatch.setenv("RECSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RECSTACK_TINY__GREETING", "hej")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_tiny_system_appears_everywhere(with_tiny: Settings):
    from recstack.api.main import create_app
    from recstack.cli import build_app
    from recstack.demo import demo_plan, run_demo

    specs = systems.installed_systems()
    assert [s.name for s in specs][-1] == "tiny"
    plan = demo_plan(specs)
    assert plan[0][0] == "tiny"  # order 5 runs first
    assert [name for name, _ in plan[1:]] == ["sequential", "nlu", "embeddings", "matching",
                                             "treatment", "chat"]

    tiny = specs[-1]
    result = run_demo(with_tiny, [tiny], Console(file=io.StringIO()))
    assert result.outcomes["tiny"].examples == ["curl /v1/tiny/greet"]

    runner = CliRunner()
    cli = build_app()
    said = runner.invoke(cli, ["tiny", "hello", "--name", "ann"])
    assert said.exit_code == 0 and "tiny says hello to ann" in said.output
    listed = runner.invoke(cli, ["models", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if "tiny-greeter" in line
               and "champion" in line)
    assert "tiny" in row and "valid_accuracy=0.900" in row

    from tinysys.model import OPENED

    with TestClient(create_app(with_tiny)) as client:
        assert "/v1/tiny/greet" in client.get("/openapi.json").json()["paths"]
        answer = client.get("/v1/tiny/greet", params={"name": "ann"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        # The champion is the better version on valid_accuracy, greeting from the settings.
        assert body["text"] == "HEJ ann" and body["version"] == "2"
        assert answer.headers["X-Request-ID"] == body["request_id"]
        health = client.get("/health").json()
        assert health["default_models"]["tiny"] == "tiny-greeter@champion"
        versions = {v["version"]: v for v in client.get("/v1/models").json()
                    if v["name"] == "tiny-greeter"}
        assert versions["2"]["kind"] == "tiny"
        assert versions["2"]["metrics"] == {"valid_accuracy": "0.900"}
        assert not OPENED[-1].closed
        log = client.app.state.service.prediction_log
        log.flush()
        from recstack.monitoring.labels import prediction_frame

        logged = prediction_frame(log.store, "tiny-greeter")
        assert list(logged["request_id"]) == [body["request_id"]]
    assert OPENED[-1].closed  # the lifespan closed what it opened


def test_every_installed_spec_resolves():
    """Every "module:attribute" an installed spec names exists (a typo fails here, not in
    production); kinds and names are unique."""
    specs = systems.installed_systems()
    assert {s.name for s in specs} == {"sequential", "embeddings", "treatment", "nlu",
                                        "matching", "chat"}
    for spec in specs:
        for target in filter(None, (spec.router, spec.cli, spec.demo and spec.demo.run)):
            assert pkgutil.resolve_name(target) is not None, target
        for kind in spec.model_kinds:
            assert callable(pkgutil.resolve_name(kind.loader))
            if kind.pyfunc:
                assert pkgutil.resolve_name(kind.pyfunc) is not None
        if spec.model_kinds:  # a system that serves registered models names a default one
            assert spec.settings_of(Settings()).default_model
    assert len(systems.model_kinds(specs).names()) == sum(len(s.model_kinds) for s in specs)


def test_a_bad_system_setting_names_the_variable(with_tiny: Settings, monkeypatch):
    spec = next(s for s in systems.installed_systems() if s.name == "tiny")
    assert spec.settings_of(with_tiny).greeting == "hej"
    overridden = Settings(systems={"tiny": {"greeting": "hi"}})
    assert spec.settings_of(overridden).greeting == "hi"  # overrides beat the environment
    with pytest.raises(ConfigError) as err:
        spec.settings_of(Settings(systems={"tiny": {"greting": "typo"}}))
    assert err.value.field == "RECSTACK_TINY__GRETING"


def test_a_list_entry_that_is_not_a_spec_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(systems, "SYSTEMS", [*systems.SYSTEMS, "recstack.settings:Settings"])
    with pytest.raises(ConfigError, match="not a SystemSpec"):
        systems.installed_systems()
    monkeypatch.setattr(systems, "SYSTEMS", ["recstack.nowhere.system:SPEC"])
    with pytest.raises(ConfigError) as err:
        systems.installed_systems()
    assert err.value.field == "recstack.systems.SYSTEMS"
