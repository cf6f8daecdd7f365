"""Settings of monitoring and alerting (``RECSTACK_MONITORING__*``) and the configs of the
prediction-log stores.

The log store is a discriminated union on ``type``:
``RECSTACK_MONITORING__LOG_STORE__TYPE=postgres`` with
``RECSTACK_MONITORING__LOG_STORE__DSN=postgresql://…`` keeps the log in PostgreSQL. The configs
live here, not beside the backends in ``recstack.monitoring.store``, because
``recstack.settings`` imports this module: it must stay free of pandas, psycopg and the plugin
table. Secrets (the DSN, the Slack webhook) are ``SecretStr``: read in clear only where the
connection is made.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from recstack.configs import settings_section_input


class SQLiteLogStoreConfig(BaseModel):
    """The prediction log in the SQLite file ``monitoring.store_path`` (the default)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    type: Literal["sqlite"] = "sqlite"


class PostgresLogStoreConfig(BaseModel):
    """The prediction log in PostgreSQL, for a service on several hosts (needs psycopg)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    type: Literal["postgres"] = "postgres"
    dsn: SecretStr = Field(description="postgresql://user:password@host:5432/db")


LogStoreConfig = Annotated[SQLiteLogStoreConfig | PostgresLogStoreConfig,
                           Field(discriminator="type")]

# Settings of the previous layout, refused so that an old deployment does not silently log to
# SQLite instead of PostgreSQL.
_RENAMED = {"postgres_dsn": "RECSTACK_MONITORING__LOG_STORE__TYPE=postgres and "
                            "RECSTACK_MONITORING__LOG_STORE__DSN"}


class MonitoringSettings(BaseModel):
    """Prediction log, drift thresholds and alert channels."""

    # A validation error must not echo its input: it may hold the DSN or the webhook.
    # (Loaded through recstack.settings.Settings, the root model's config decides: it needs
    # the same.)
    model_config = ConfigDict(hide_input_in_errors=True)

    slack_webhook_url: SecretStr | None = Field(
        None, description="Slack incoming webhook (its path is the credential); off if unset")
    smtp_host: str | None = Field(None, description="SMTP server for e-mail alerts; off if unset")
    smtp_port: int = Field(25, ge=1, le=65535)
    email_from: str = Field("recstack@localhost")
    email_to: list[str] = Field(default_factory=list)
    store_path: Path | None = Field(
        None, description="SQLite file of the monitoring state, and of the prediction log when "
                          "log_store.type is sqlite; default <home>/monitoring/monitoring.db")
    log_store: LogStoreConfig = Field(
        default_factory=SQLiteLogStoreConfig,
        description="prediction-log backend, chosen by its 'type': 'sqlite' or 'postgres'")
    flush_interval_s: float = Field(
        0.2, gt=0, le=60, description="the background writer commits at least this often")
    batch_size: int = Field(500, ge=1, description="records per SQLite transaction")
    fsync_journal: bool = Field(
        False, description="fsync the write-ahead journal per record: survives power loss, slower")
    alert_cooldown_s: float = Field(
        3600.0, ge=0, description="an alert rule fires again for the same subject only after this")
    alert_retries: int = Field(3, ge=1, le=10, description="attempts per channel before pending")
    alert_timeout_s: float = Field(5.0, gt=0, description="HTTP/SMTP timeout per attempt")
    drift_share: float = Field(
        0.5, gt=0, le=1, description="dataset drift when at least this share of columns drifts")
    drift_thresholds: dict[str, float] = Field(
        default_factory=dict, description="per-method threshold overrides, e.g. {'psi': 0.2}")

    @model_validator(mode="before")
    @classmethod
    def _check_input(cls, data: Any) -> Any:
        return settings_section_input(data, section="monitoring", renamed=_RENAMED,
                                      unions={"log_store": "sqlite"})

    def resolved_store_path(self, home: Path) -> Path:
        """The SQLite file, under ``home`` unless configured."""
        return self.store_path or home / "monitoring" / "monitoring.db"


def redact(text: str, *secrets: SecretStr | str | None) -> str:
    """``text`` with each secret, and the password inside a URL-shaped one, replaced by ``***``.

    For messages that quote a library's error (a driver may echo the connection string).
    """
    for secret in secrets:
        if secret is None:
            continue
        clear = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if not clear:
            continue
        parts = [clear]
        try:
            password = urlsplit(clear).password
        except ValueError:
            password = None
        if password:
            parts.append(password)
        # libpq's keyword form: "host=db password=…"
        parts += re.findall(r"password\s*=\s*'?([^\s']+)", clear)
        for part in parts:
            text = text.replace(part, "***")
    return text
