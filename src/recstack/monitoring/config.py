"""Settings of monitoring and alerting (``RECSTACK_MONITORING__*``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MonitoringSettings(BaseModel):
    """Prediction log and alert channels."""

    slack_webhook_url: str | None = Field(None, description="Slack incoming webhook; off if unset")
    smtp_host: str | None = Field(None, description="SMTP server for e-mail alerts; off if unset")
    smtp_port: int = Field(25, ge=1, le=65535)
    email_from: str = Field("recstack@localhost")
    email_to: list[str] = Field(default_factory=list)
