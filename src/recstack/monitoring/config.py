"""Settings of monitoring and alerting (``RECSTACK_MONITORING__*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class MonitoringSettings(BaseModel):
    """Prediction log, drift thresholds and alert channels."""

    slack_webhook_url: str | None = Field(None, description="Slack incoming webhook; off if unset")
    smtp_host: str | None = Field(None, description="SMTP server for e-mail alerts; off if unset")
    smtp_port: int = Field(25, ge=1, le=65535)
    email_from: str = Field("recstack@localhost")
    email_to: list[str] = Field(default_factory=list)
    store_path: Path | None = Field(
        None, description="SQLite file of the prediction log and monitoring state; "
                          "default <home>/monitoring/monitoring.db")
    postgres_dsn: str | None = Field(
        None, description="postgresql://… to keep the prediction log in PostgreSQL (needs psycopg)")
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

    def resolved_store_path(self, home: Path) -> Path:
        """The SQLite file, under ``home`` unless configured."""
        return self.store_path or home / "monitoring" / "monitoring.db"
