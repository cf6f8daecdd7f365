"""``recstack monitor …`` commands: thin wrappers over the library functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Monitoring: run a pass, report, alerts.",
                  no_args_is_help=True)
console = Console()


def print_summary(summary: dict[str, Any]) -> None:
    """The CLI summary table: drift per column, latest performance, alerts."""
    table = Table(title=f"{summary['model_name']}: drift in the last window "
                        f"({summary['n_predictions']} predictions, {summary['n_labelled']} "
                        "labelled)")
    for column in ("column", "method", "score", "threshold", "drift"):
        table.add_column(column, justify="right")
    for row in summary["drift"]:
        table.add_row(row["column"], row["method"], f"{row['score']:.4g}",
                      f"{row['threshold']:g}",
                      "[bold red]yes[/bold red]" if row["drifted"] else "no")
    console.print(table)
    for column, why in summary.get("skipped_columns", {}).items():
        console.print(f"  skipped {column}: {why}")
    shown = {k: v for k, v in summary["metrics"].items()
             if k.startswith(("performance.", "estimated.", "prediction_drift.", "drift.share",
                              "drift.domain"))}
    if shown:
        perf = Table(title="latest window")
        perf.add_column("metric")
        perf.add_column("value", justify="right")
        for key, value in shown.items():
            perf.add_row(key, "-" if value is None else f"{value:.4g}")
        console.print(perf)
    for status, texts in summary["alerts"].items():
        for text in texts:
            console.print(f"alert {status}: {text}", highlight=False)
    if summary.get("report"):
        console.print(f"report: {summary['report']}")


@app.command("run")
def run(model: Annotated[str, typer.Option(help="model name as logged")],
        reference: Annotated[Path | None, typer.Option(
            help="training frame, CSV or Parquet")] = None,
        reference_model: Annotated[str | None, typer.Option(
            help="use the training frame registered with this version (NAME@ALIAS), e.g. the "
                 "feature-store frame a treatment model was fitted on")] = None,
        task: Annotated[str, typer.Option(help="regression, classification or ranking")
                        ] = "regression",
        window: Annotated[str, typer.Option(help="time window, e.g. 1D or 7D")] = "1D",
        features: Annotated[list[str] | None, typer.Option(help="columns (repeatable)")] = None,
        rules: Annotated[Path | None, typer.Option(help="JSON list of alert rules")] = None,
        out: Annotated[Path | None, typer.Option(help="report folder")] = None,
        alerts: Annotated[bool, typer.Option("--alerts/--no-alerts")] = True) -> None:
    """One monitoring pass (schedule it with cron or a timer): drift, performance, alerts,
    HTML report."""
    from recstack.errors import ConfigError
    from recstack.monitoring.alerts import AlertRule
    from recstack.monitoring.reference import model_reference
    from recstack.monitoring.runner import DEFAULT_RULES, MonitorJob, run_monitoring
    from recstack.settings import get_settings

    if (reference is None) == (reference_model is None):
        raise ConfigError("give one reference", field="--reference",
                          fix="pass --reference FILE or --reference-model NAME@ALIAS")
    settings = get_settings()
    frame = model_reference(reference_model, settings) if reference_model else None

    job = MonitorJob(model_name=model, task=task, reference_path=reference, window=window,
                     features=features or None, out_dir=out,
                     rules=_read_rules(rules) if rules else list(DEFAULT_RULES))
    assert all(isinstance(r, AlertRule) for r in job.rules)
    with console.status("monitoring pass"):
        result = run_monitoring(job, settings, reference=frame, send_alerts=alerts)
    print_summary(result.summary())


def _read_rules(path: Path) -> list[Any]:
    from recstack.errors import ConfigError
    from recstack.monitoring.alerts import AlertRule

    try:
        return [AlertRule(**r) for r in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read alert rules from {path}: {exc}", field="--rules",
                          fix='write a JSON list like [{"name": "mae high", "metric": '
                              '"performance.mae", "op": ">", "threshold": 150}]') from None


@app.command("summary")
def summary(model: Annotated[str | None, typer.Option(help="model name")] = None) -> None:
    """The latest pass, as a table."""
    from recstack.monitoring.runner import latest_summary
    from recstack.settings import get_settings

    print_summary(latest_summary(get_settings(), model))


@app.command("labels")
def labels(path: Annotated[Path, typer.Argument(help="CSV/Parquet: request_id, label "
                                                     "[, label_time]")],
           by_entity: Annotated[bool, typer.Option(
               help="rows carry entity_id + label_time instead of request_id")] = False,
           within_days: Annotated[float, typer.Option(help="entity join: max delay")] = 7.0,
           strict: Annotated[bool, typer.Option(help="reject unknown request ids")] = False,
           ) -> None:
    """Store late labels (ground truth) for logged predictions."""
    from recstack.monitoring.labels import ingest_labels, join_by_entity, prediction_frame
    from recstack.monitoring.log import open_store
    from recstack.settings import get_settings
    from recstack.tables import read_table

    store = open_store(get_settings())
    frame = read_table(path, field="labels")
    if by_entity:
        frame = join_by_entity(prediction_frame(store), frame, within_s=within_days * 86400)
    console.print(ingest_labels(store, frame, strict=strict).message())


@app.command("alerts")
def alerts_cmd(retry: Annotated[bool, typer.Option(help="resend pending alerts")] = False,
               limit: int = 20) -> None:
    """Recorded alerts and their delivery; ``--retry`` resends the pending ones."""
    from recstack.monitoring.alerts import AlertManager
    from recstack.settings import get_settings

    manager = AlertManager(get_settings())
    if retry:
        outcome = manager.retry_pending()
        console.print(f"{len(outcome['sent'])} sent, {len(outcome['pending'])} still pending")
    table = Table(title="alerts")
    for column in ("id", "status", "subject", "alert", "last error"):
        table.add_column(column)
    for row in manager.history()[:limit]:
        table.add_row(str(row["id"]), row["status"], row["subject"],
                      f"{row['rule']}: {row['metric']} = {row['value']:.4g}",
                      (row["last_error"] or "")[:60])
    console.print(table)

