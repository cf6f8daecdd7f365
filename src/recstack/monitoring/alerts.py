"""Alert rules on any metric, sent to Slack (incoming webhook) and by e-mail (SMTP).

A rule is data (name, metric pattern, operator, threshold), so it can be stored and re-run. An
alert's fingerprint is rule + metric + subject: within the cooldown the same fingerprint is not
sent again (de-duplication). Delivery state lives in the monitoring SQLite store; an alert that a
channel could not take after its retries stays ``pending`` and is sent by ``retry_pending``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import operator
import smtplib
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, Field, SecretStr

from recstack.errors import ConfigError
from recstack.monitoring.config import redact
from recstack.sqlite import open_wal

if TYPE_CHECKING:
    from recstack.settings import Settings

logger = logging.getLogger(__name__)
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
        "==": operator.eq, "!=": operator.ne}


class AlertRule(BaseModel):
    """Fire when ``metric`` (a name or a glob such as ``drift.*.drifted``) ``op`` ``threshold``."""

    name: str
    metric: str
    op: str = Field(">", description="one of > >= < <= == !=")
    threshold: float
    severity: str = Field("warning", description="info, warning or critical")

    def model_post_init(self, __context: Any) -> None:
        if self.op not in _OPS:
            raise ConfigError(f"unknown operator {self.op!r} in rule {self.name!r}", field="op",
                              fix=f"use one of: {' '.join(_OPS)}")


@dataclass
class Alert:
    """One rule firing for one metric of one subject (a model)."""

    rule: str
    metric: str
    value: float
    threshold: float
    op: str
    severity: str
    subject: str
    created: float

    @property
    def fingerprint(self) -> str:
        return hashlib.sha1(f"{self.rule}|{self.metric}|{self.subject}".encode()).hexdigest()[:16]

    def text(self) -> str:
        return (f"[{self.severity.upper()}] {self.subject}: {self.rule} — {self.metric} = "
                f"{self.value:.4g} ({self.op} {self.threshold:g})")


def evaluate_rules(rules: list[AlertRule], metrics: dict[str, float], subject: str,
                   now: float | None = None) -> list[Alert]:
    """Alerts for every metric matching a rule whose condition holds (NaN never fires)."""
    now = time.time() if now is None else now
    alerts = []
    for rule in rules:
        for name in sorted(fnmatch.filter(metrics, rule.metric)):
            value = float(metrics[name])
            if value == value and _OPS[rule.op](value, rule.threshold):
                alerts.append(Alert(rule.name, name, value, rule.threshold, rule.op,
                                    rule.severity, subject, now))
    return alerts


class DeliveryError(Exception):
    """A channel could not deliver after its retries."""


class Channel(ABC):
    """Somewhere alerts go."""

    name: str

    @abstractmethod
    def send(self, alerts: list[Alert]) -> None:
        """Deliver all ``alerts`` in one message or raise :class:`DeliveryError`."""


def _retry(what: str, attempts: int, func: Any, secret: SecretStr | None = None) -> None:
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            func()
            return
        except (httpx.HTTPError, OSError, smtplib.SMTPException, DeliveryError) as exc:
            last = exc
            if attempt + 1 < attempts:
                time.sleep(0.2 * 2**attempt)
    # The error is logged: an HTTP client's message may quote the URL, whose path is the secret.
    raise DeliveryError(f"{what} failed after {attempts} attempts: {redact(str(last), secret)}")


class SlackChannel(Channel):
    """A Slack incoming webhook: one HTTP POST of ``{"text": …}`` per batch of alerts."""

    name = "slack"

    def __init__(self, url: SecretStr | str, *, retries: int = 3, timeout: float = 5.0):
        self.url = url if isinstance(url, SecretStr) else SecretStr(url)
        self.retries, self.timeout = retries, timeout

    def send(self, alerts: list[Alert]) -> None:
        payload = {"text": "\n".join(a.text() for a in alerts)}

        def post() -> None:
            response = httpx.post(self.url.get_secret_value(), json=payload,
                                  timeout=self.timeout)
            if response.status_code >= 300:
                raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")

        _retry("Slack webhook", self.retries, post, secret=self.url)


class EmailChannel(Channel):
    """Plain SMTP: one e-mail per batch of alerts."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, recipients: list[str], *,
                 retries: int = 3, timeout: float = 5.0):
        if not recipients:
            raise ConfigError("e-mail alerts need at least one recipient",
                              field="monitoring.email_to",
                              fix='set RECSTACK_MONITORING__EMAIL_TO=\'["ops@example.com"]\'')
        self.host, self.port, self.sender, self.recipients = host, port, sender, recipients
        self.retries, self.timeout = retries, timeout

    def send(self, alerts: list[Alert]) -> None:
        msg = EmailMessage()
        worst = "CRITICAL" if any(a.severity == "critical" for a in alerts) else "WARNING"
        msg["Subject"] = f"[recstack {worst}] {len(alerts)} alert(s) for {alerts[0].subject}"
        msg["From"], msg["To"] = self.sender, ", ".join(self.recipients)
        msg.set_content("\n".join(a.text() for a in alerts))

        def deliver() -> None:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(msg)

        _retry(f"SMTP {self.host}:{self.port}", self.retries, deliver)


def channels_from_settings(settings: Settings) -> list[Channel]:
    cfg = settings.monitoring
    out: list[Channel] = []
    if cfg.slack_webhook_url:
        out.append(SlackChannel(cfg.slack_webhook_url, retries=cfg.alert_retries,
                                timeout=cfg.alert_timeout_s))
    if cfg.smtp_host:
        out.append(EmailChannel(cfg.smtp_host, cfg.smtp_port, cfg.email_from, cfg.email_to,
                                retries=cfg.alert_retries, timeout=cfg.alert_timeout_s))
    return out


class AlertManager:
    """Records alerts, applies cooldown/de-duplication, delivers, and keeps failures pending.

    Args:
        settings: store path, cooldown, channels (unless ``channels`` is given).
        channels: where alerts go.
    """

    def __init__(self, settings: Settings, channels: list[Channel] | None = None):
        self.cooldown_s = settings.monitoring.alert_cooldown_s
        self.channels = channels_from_settings(settings) if channels is None else channels
        path: Path = settings.monitoring.resolved_store_path(settings.home)
        self._lock = threading.Lock()
        self._conn = open_wal(path, check_same_thread=False)
        with self._conn:
            self._conn.execute(
                """CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY AUTOINCREMENT,
                fingerprint TEXT NOT NULL, created REAL NOT NULL, status TEXT NOT NULL,
                delivered TEXT NOT NULL, last_error TEXT, body TEXT NOT NULL)""")

    def process(self, alerts: list[Alert]) -> dict[str, list[Alert]]:
        """Record and send ``alerts``; returns them split into sent, pending and suppressed."""
        fresh, suppressed, seen = [], [], set()
        for alert in alerts:
            if alert.fingerprint in seen or self._in_cooldown(alert):
                suppressed.append(alert)
                continue
            seen.add(alert.fingerprint)
            fresh.append(alert)
        ids = [self._insert(a) for a in fresh]
        sent, pending = self._deliver(list(zip(ids, fresh, strict=True)))
        return {"sent": sent, "pending": pending, "suppressed": suppressed}

    def retry_pending(self) -> dict[str, list[Alert]]:
        """Try again every pending alert on the channels that have not taken it yet."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, body FROM alerts WHERE status = 'pending' ORDER BY id").fetchall()
        items = [(row[0], Alert(**json.loads(row[1]))) for row in rows]
        sent, pending = self._deliver(items)
        return {"sent": sent, "pending": pending, "suppressed": []}

    def history(self) -> list[dict[str, Any]]:
        """Every recorded alert, newest first, with its delivery status."""
        with self._lock:
            rows = self._conn.execute("SELECT id, status, delivered, last_error, body FROM alerts "
                                      "ORDER BY id DESC").fetchall()
        return [{"id": r[0], "status": r[1], "delivered": json.loads(r[2]), "last_error": r[3],
                 **json.loads(r[4])} for r in rows]

    def _in_cooldown(self, alert: Alert) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT MAX(created) FROM alerts WHERE fingerprint = ?",
                (alert.fingerprint,)).fetchone()
        return row[0] is not None and alert.created - row[0] < self.cooldown_s

    def _insert(self, alert: Alert) -> int:
        with self._lock, self._conn:
            cur = self._conn.execute(
                "INSERT INTO alerts (fingerprint, created, status, delivered, body) "
                "VALUES (?, ?, 'pending', '[]', ?)",
                (alert.fingerprint, alert.created, json.dumps(asdict(alert))))
            return int(cur.lastrowid or 0)

    def _deliver(self, items: list[tuple[int, Alert]]) -> tuple[list[Alert], list[Alert]]:
        if not items:
            return [], []
        with self._lock:
            done = {row[0]: set(json.loads(row[1])) for row in self._conn.execute(
                f"SELECT id, delivered FROM alerts WHERE id IN ({','.join('?' * len(items))})",
                [i for i, _ in items])}
        errors: dict[int, str] = {}
        for channel in self.channels:
            todo = [(i, a) for i, a in items if channel.name not in done[i]]
            if not todo:
                continue
            try:
                channel.send([a for _, a in todo])
                for i, _ in todo:
                    done[i].add(channel.name)
            except DeliveryError as exc:
                logger.warning("alert channel %s: %s; alerts kept as pending", channel.name, exc)
                for i, _ in todo:
                    errors[i] = str(exc)
        wanted = {c.name for c in self.channels}
        sent: list[Alert] = []
        pending: list[Alert] = []
        with self._lock, self._conn:
            for i, alert in items:
                # With no channel configured an alert is only recorded; it counts as sent.
                status = ("pending" if not wanted <= done[i]
                          else "sent" if wanted else "recorded")
                (pending if status == "pending" else sent).append(alert)
                self._conn.execute(
                    "UPDATE alerts SET status = ?, delivered = ?, last_error = ? WHERE id = ?",
                    (status, json.dumps(sorted(done[i])), errors.get(i), i))
        return sent, pending
