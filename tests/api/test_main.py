"""The app factory: the optional API key, the lifespan, errors for a missing optional extra."""

from __future__ import annotations

from fastapi.testclient import TestClient

from recstack.api.main import create_app
from recstack.settings import Settings


def _settings(tmp_path, **serving) -> Settings:
    return Settings(home=tmp_path / "home", serving=serving)


def test_api_key_guards_every_route_but_health(tmp_path):
    settings = _settings(tmp_path, api_key="s3cret-key")
    with TestClient(create_app(settings, specs=[])) as client:
        assert client.get("/health").status_code == 200  # probes need no key
        missing = client.get("/v1/models")
        assert missing.status_code == 401
        assert missing.json()["field"] == "X-API-Key" and "s3cret" not in missing.text
        wrong = client.get("/v1/models", headers={"X-API-Key": "s3cret-kez"})
        assert wrong.status_code == 401
        right = client.get("/v1/models", headers={"X-API-Key": "s3cret-key"})
        assert right.status_code == 200 and right.json() == []
        schema = client.get("/openapi.json").json()
        assert "APIKeyHeader" in schema["components"]["securitySchemes"]
        assert "401" in schema["paths"]["/v1/models"]["get"]["responses"]


def test_without_a_key_the_service_is_open(tmp_path):
    with TestClient(create_app(_settings(tmp_path), specs=[])) as client:
        assert client.get("/v1/models").status_code == 200


def test_the_key_is_a_secret_never_printed(tmp_path):
    settings = _settings(tmp_path, api_key="s3cret-key")
    assert "s3cret" not in repr(settings) and "s3cret" not in settings.model_dump_json()
    assert settings.serving.api_key is not None
    assert settings.serving.api_key.get_secret_value() == "s3cret-key"


def test_the_lifespan_closes_the_feature_store_and_the_log(tmp_path):
    app = create_app(_settings(tmp_path), specs=[])
    with TestClient(app) as client:
        assert client.get("/v1/features/views").status_code == 200  # opens the store
        state = app.state.service
        assert state._feature_store is not None
    assert state._feature_store is None  # closed by the lifespan


def test_the_old_serving_model_variable_is_refused_with_the_new_name(monkeypatch):
    from recstack.errors import ConfigError
    from recstack.settings import get_settings

    monkeypatch.setenv("RECSTACK_SERVING__MODEL", "travel-next-item")
    get_settings.cache_clear()
    try:
        try:
            get_settings()
        except ConfigError as err:
            assert err.field == "RECSTACK_SERVING"
            assert "RECSTACK_SEQUENTIAL__DEFAULT_MODEL" in err.message
        else:
            raise AssertionError("RECSTACK_SERVING__MODEL was silently ignored")
    finally:
        get_settings.cache_clear()
