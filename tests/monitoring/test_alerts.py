"""Alerts through real local receivers: Slack webhook over HTTP and e-mail over SMTP."""

from __future__ import annotations

import time

import pytest

from recstack.errors import ConfigError
from recstack.monitoring import AlertManager, AlertRule, evaluate_rules

from .conftest import free_port

RULES = [AlertRule(name="column drift", metric="drift.*.drifted", op=">=", threshold=1),
         AlertRule(name="mae high", metric="performance.mae", op=">", threshold=100,
                   severity="critical")]


def _configure(settings, webhook=None, smtp=None, cooldown: float = 3600):
    cfg = settings.monitoring
    cfg.alert_cooldown_s, cfg.alert_retries, cfg.alert_timeout_s = cooldown, 2, 2.0
    if webhook is not None:
        cfg.slack_webhook_url = webhook
    if smtp is not None:
        cfg.smtp_host, cfg.smtp_port, cfg.email_to = "127.0.0.1", smtp, ["ops@clinic.test"]
    return settings


def test_rules_fire_on_matching_metrics_only():
    metrics = {"drift.acd_mm.drifted": 1.0, "drift.age.drifted": 0.0, "performance.mae": 120.0,
               "performance.coverage": float("nan")}
    alerts = evaluate_rules(RULES, metrics, "icl-treatment")
    assert [(a.rule, a.metric) for a in alerts] == [("column drift", "drift.acd_mm.drifted"),
                                                    ("mae high", "performance.mae")]
    with pytest.raises(ConfigError, match="operator"):
        AlertRule(name="x", metric="m", op="=>", threshold=1)


def test_alerts_arrive_by_slack_and_email_once_within_the_cooldown(settings, webhook,
                                                                   smtp_server):
    manager = AlertManager(_configure(settings, webhook.url, smtp_server.port))
    alerts = evaluate_rules(RULES, {"drift.acd_mm.drifted": 1.0, "performance.mae": 150.0},
                            "icl-treatment")
    outcome = manager.process(alerts + alerts)  # the same alert twice in one pass
    assert len(outcome["sent"]) == 2 and len(outcome["suppressed"]) == 2
    assert len(webhook.bodies) == 1
    text = webhook.bodies[0]["text"]
    assert "drift.acd_mm.drifted" in text and "[CRITICAL]" in text
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert "icl-treatment" in mail["Subject"] and mail["To"] == "ops@clinic.test"
    assert "performance.mae = 150" in mail.get_payload()

    again = manager.process(evaluate_rules(RULES, {"performance.mae": 170.0}, "icl-treatment"))
    assert again["suppressed"] and not again["sent"] and len(webhook.bodies) == 1
    other_model = manager.process(evaluate_rules(RULES, {"performance.mae": 170.0}, "other"))
    assert len(other_model["sent"]) == 1 and len(webhook.bodies) == 2


def test_cooldown_expires(settings, webhook):
    manager = AlertManager(_configure(settings, webhook.url, cooldown=0.2))
    metrics = {"performance.mae": 150.0}
    manager.process(evaluate_rules(RULES, metrics, "m"))
    time.sleep(0.3)
    manager.process(evaluate_rules(RULES, metrics, "m"))
    assert len(webhook.bodies) == 2


def test_a_transient_webhook_failure_is_retried(settings, webhook):
    webhook.fail_next = 1
    manager = AlertManager(_configure(settings, webhook.url))
    outcome = manager.process(evaluate_rules(RULES, {"performance.mae": 150.0}, "m"))
    assert len(outcome["sent"]) == 1 and len(webhook.bodies) == 1


def test_unreachable_receivers_keep_alerts_pending_until_retried(settings, webhook,
                                                                 caplog):
    dead_http, dead_smtp = f"http://127.0.0.1:{free_port()}/hook", free_port()
    manager = AlertManager(_configure(settings, dead_http, dead_smtp))
    outcome = manager.process(evaluate_rules(RULES, {"performance.mae": 150.0}, "m"))
    assert len(outcome["pending"]) == 1 and not outcome["sent"]
    assert "kept as pending" in caplog.text and "failed after 2 attempts" in caplog.text
    [row] = manager.history()
    assert (row["status"] == "pending" and "Slack webhook" in (row["last_error"] or "")) or \
        "SMTP" in (row["last_error"] or "")

    # The receiver comes back (Slack only now): the pending alert goes out, nothing is lost.
    settings.monitoring.slack_webhook_url, settings.monitoring.smtp_host = webhook.url, None
    retried = AlertManager(settings).retry_pending()
    assert len(retried["sent"]) == 1 and len(webhook.bodies) == 1
    assert AlertManager(settings).history()[0]["status"] == "sent"
