"""Secrets in the settings (PostgreSQL DSN, Slack webhook, Redis URL) never reach a repr, a JSON
dump, an error message or a log line."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from recstack.errors import ConfigError
from recstack.monitoring.alerts import Alert, DeliveryError, SlackChannel
from recstack.monitoring.config import MonitoringSettings, redact
from recstack.monitoring.log import open_store
from recstack.settings import Settings

from .conftest import free_port

DSN_PASSWORD = "pg-s3cret-pw"
WEBHOOK_TOKEN = "wh-s3cret-token"


def _leaks(text: str) -> bool:
    return DSN_PASSWORD in text or WEBHOOK_TOKEN in text


@pytest.fixture
def secret_env(monkeypatch, tmp_path):
    monkeypatch.setenv("RECSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RECSTACK_MONITORING__LOG_STORE__TYPE", "postgres")
    # Port 1: nothing listens, so connecting fails fast.
    monkeypatch.setenv("RECSTACK_MONITORING__LOG_STORE__DSN",
                       f"postgresql://alice:{DSN_PASSWORD}@127.0.0.1:1/recstack")
    monkeypatch.setenv("RECSTACK_MONITORING__SLACK_WEBHOOK_URL",
                       f"http://127.0.0.1:{free_port()}/services/T0/B0/{WEBHOOK_TOKEN}")


def test_settings_repr_and_json_hide_the_dsn_and_the_webhook(secret_env):
    settings = Settings()
    assert settings.monitoring.log_store.type == "postgres"
    for text in (repr(settings), str(settings), settings.model_dump_json(),
                 repr(settings.monitoring.log_store), str(settings.model_dump())):
        assert not _leaks(text)
    # ...and they are still there for the code that connects.
    assert DSN_PASSWORD in settings.monitoring.log_store.dsn.get_secret_value()


def test_a_failed_connection_does_not_quote_the_dsn(secret_env, caplog):
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as caught:
        open_store(Settings())
    error = caught.value
    assert error.field == "monitoring.log_store.dsn"
    assert "cannot reach" in str(error)
    assert not _leaks(f"{error} {error!r} {error.fix} {error.__cause__} {error.__context__}")
    assert not _leaks(caplog.text)


def test_a_malformed_dsn_is_redacted_from_the_driver_message():
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    from recstack.monitoring.store import PostgresLogStore

    # libpq quotes an unparsable URI, or the bad token of one, in its error.
    for dsn in (f"postgresql://alice:{DSN_PASSWORD}@[::1/recstack",
                f"postgresql://alice:{DSN_PASSWORD}%zz@127.0.0.1:1/recstack"):
        with pytest.raises(ConfigError, match="cannot reach") as caught:
            PostgresLogStore(dsn)
        assert "***" in str(caught.value) and not _leaks(str(caught.value))


def test_a_failed_slack_delivery_does_not_quote_the_webhook(secret_env, caplog):
    channel = SlackChannel(Settings().monitoring.slack_webhook_url, retries=1, timeout=1.0)
    alert = Alert(rule="r", metric="m", value=1.0, threshold=0.0, op=">", severity="warning",
                  subject="s", created=0.0)
    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError) as caught:
        channel.send([alert])
    assert "Slack webhook" in str(caught.value)
    assert not _leaks(str(caught.value)) and not _leaks(caplog.text)


def test_a_validation_error_does_not_echo_the_dsn():
    with pytest.raises(ValidationError) as caught:  # no type: the default is sqlite, no dsn key
        MonitoringSettings.model_validate(
            {"log_store": {"dsn": f"postgresql://alice:{DSN_PASSWORD}@db/recstack"}})
    assert not _leaks(str(caught.value))


def test_redact_hides_the_whole_secret_and_a_url_password():
    dsn = f"postgresql://alice:{DSN_PASSWORD}@db:5432/x"
    assert redact(f"bad {dsn}", dsn) == "bad ***"
    assert redact(f"user alice password {DSN_PASSWORD} refused", dsn) == \
        "user alice password *** refused"
    assert redact("nothing here", None, "") == "nothing here"


def test_a_dsn_without_its_type_fails_without_quoting_it(monkeypatch, tmp_path):
    """A DSN set but the store type left at sqlite: the settings refuse to load, and neither
    pydantic's message nor the ConfigError the CLI prints contains the password."""
    from recstack.settings import get_settings

    monkeypatch.setenv("RECSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RECSTACK_MONITORING__LOG_STORE__DSN",
                       f"postgresql://alice:{DSN_PASSWORD}@127.0.0.1:1/recstack")
    with pytest.raises(ValidationError) as raw:
        Settings()
    assert not _leaks(str(raw.value))
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError) as err:
            get_settings()
        assert err.value.field.startswith("RECSTACK_MONITORING__LOG_STORE")
        assert not _leaks(str(err.value))
    finally:
        get_settings.cache_clear()
