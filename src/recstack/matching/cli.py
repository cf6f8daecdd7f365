"""``recstack match …`` commands: train, evaluate, predict, block, link and jobs, thin over the
library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from recstack.cli_options import parse_overrides
from recstack.settings import get_settings

app = typer.Typer(help="Place matching: are two records the same place?", no_args_is_help=True)
console = Console()
ModelRef = Annotated[str | None, typer.Option(
    "--model", help="NAME, NAME@ALIAS or NAME/VERSION; default RECSTACK_MATCHING__DEFAULT_MODEL "
                    "(place-matcher@champion)")]
PairsOption = Annotated[Path, typer.Option(
    "--pairs", help="pair file: 'COL attr VAL value …' <TAB> other record <TAB> 0/1 "
                    "(plain or .gz)")]


def _model_ref(model: str | None) -> str:
    """The named model, else the settings' default (RECSTACK_MATCHING__DEFAULT_MODEL)."""
    from recstack.errors import ConfigError
    from recstack.matching.system import SPEC

    ref = model or SPEC.settings_of(get_settings()).default_model
    if not ref:
        raise ConfigError("no model named and no default set", field="--model",
                          fix="pass --model NAME@ALIAS or set RECSTACK_MATCHING__DEFAULT_MODEL")
    return str(ref)


def _metrics_table(title: str, metrics: dict[str, float]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}")
    return table


@app.command()
def train(pairs: PairsOption,
          valid: Annotated[Path, typer.Option(
              help="labelled validation pairs: they choose the thresholds")],
          model: Annotated[str, typer.Option(help="thresholds or gbm")] = "gbm",
          name: Annotated[str, typer.Option(help="registered model name")] = "place-matcher",
          set_: Annotated[list[str] | None, typer.Option("--set", help="key=value")] = None,
          promote: Annotated[str | None, typer.Option(
              help="alias to give the new version, e.g. champion")] = None) -> None:
    """Fit on the training pairs, choose thresholds on validation, log to MLflow, register."""
    from recstack.matching.pipeline import MatchTrainConfig
    from recstack.matching.pipeline import train as train_matcher
    from recstack.registry.models import ModelRegistry

    settings = get_settings()
    result = train_matcher(MatchTrainConfig(train=pairs, valid=valid, model=model,
                                            register_as=name,
                                            params=dict(parse_overrides(set_ or []))), settings)
    console.print(_metrics_table(f"{model}: validation", result.valid))
    assert result.version is not None
    console.print(f"registered {name} version {result.version.version} "
                  f"({result.fit_seconds:.1f} s to fit; chose {result.bundle.info['chosen']})")
    if promote:
        ModelRegistry(settings).promote(name, result.version.version, promote)
        console.print(f"{name}@{promote} → version {result.version.version}")


@app.command()
def evaluate(pairs: PairsOption, model: ModelRef = None) -> None:
    """Precision, recall and F1 of a registered matcher on a labelled pair file."""
    from recstack.matching.pipeline import evaluate as evaluate_matcher

    settings = get_settings()
    ref = _model_ref(model)
    console.print(_metrics_table(f"{ref}: {pairs.name}", evaluate_matcher(ref, pairs, settings)))


@app.command()
def predict(pairs: PairsOption,
            out: Annotated[Path, typer.Option(help="CSV to write: pair,score,match")],
            model: ModelRef = None) -> None:
    """Score every pair (labels not needed); column pair is the line's index from 0."""
    from recstack.matching.pipeline import predict as predict_pairs

    frame = predict_pairs(_model_ref(model), pairs, out, get_settings())
    console.print(f"{len(frame):,} pairs, {int(frame['match'].sum()):,} matches → {out}")


@app.command()
def block(pairs: PairsOption,
          name_k: Annotated[int, typer.Option(help="top-k by name similarity")] = 10,
          geo_k: Annotated[int, typer.Option(help="k nearest by distance")] = 10) -> None:
    """Candidate recall and pairs per record of blocking on a labelled pair file's records."""
    from recstack.matching.blocking import BlockingConfig, blocking_recall
    from recstack.matching.data import read_pairs

    report = blocking_recall(read_pairs(pairs, require_labels=True),
                             BlockingConfig(name_k=name_k, geo_k=geo_k))
    console.print(_metrics_table(f"blocking {pairs.name} ({report.n_left:,} × "
                                 f"{report.n_right:,} records)",
                                 {"candidate_recall": report.recall,
                                  "pairs_per_record": report.pairs_per_record,
                                  "seconds": report.seconds}))


# -- link jobs ---------------------------------------------------------------------------------

jobs_app = typer.Typer(help="Link jobs: list, status, retry failed requests, cancel.",
                       no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
CsvOption = "CSV with columns id, name (required), lat, lon, address, postal_code (optional)"


def _job_table(records: list) -> Table:
    table = Table(title="match jobs")
    for column in ("job", "status", "executor", "total", "completed", "failed", "pending",
                   "skipped", "created"):
        table.add_column(column, justify="right" if column in (
            "total", "completed", "failed", "pending", "skipped") else "left")
    import time

    for r in records:
        table.add_row(r.job_id, r.status, r.executor, f"{r.total:,}", f"{r.completed:,}",
                      f"{r.failed:,}", f"{r.pending:,}", f"{r.skipped:,}",
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at)))
    return table


def _report(record) -> None:
    console.print(f"job {record.job_id}: {record.status} — {record.completed:,} completed, "
                  f"{record.failed:,} failed, {record.pending:,} pending of {record.total:,}"
                  f" ({record.skipped:,} unchanged records skipped)")
    if record.message:
        console.print(f"  {record.message}")
    if record.status in ("completed", "expired", "cancelled"):
        console.print(f"output: {record.output_path}")
        if record.failed:
            console.print(f"errors: {record.error_path} (re-send them with `recstack match jobs "
                          f"retry {record.job_id}`)")


def _with_progress(run, total_of=None):
    """Run ``run(advance)`` under a rich progress bar of requests."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("requests", total=None)
        state = {"seen": 0}

        def advance(n: int) -> None:
            state["seen"] += n
            if total_of is not None:
                progress.update(task, total=total_of())
            progress.update(task, completed=state["seen"])

        return run(advance)


@app.command()
def link(left: Annotated[Path, typer.Option(help=CsvOption)],
         right: Annotated[Path, typer.Option(help=CsvOption + "; searched for each left record")],
         model: ModelRef = None,
         job: Annotated[str | None, typer.Option(
             help="job id: resumes that job when it exists (default: a new id)")] = None,
         executor: Annotated[str, typer.Option(help="local | chat | batch")] = "local",
         chunk_size: Annotated[int, typer.Option(help="requests per chunk")] = 500,
         link_key: Annotated[str | None, typer.Option(
             help="name of the link incremental runs compare with (default: both paths)")] = None,
         concurrency: Annotated[int, typer.Option(help="chat: requests in flight")] = 4,
         name_k: Annotated[int, typer.Option(help="candidates by name")] = 10,
         geo_k: Annotated[int, typer.Option(help="candidates by distance")] = 10) -> None:
    """Link two tables as a resumable job: blocking → 1:N selection → 1:1 verification."""
    from recstack.matching.jobs import LinkConfig, MatchJobs

    jobs = MatchJobs(get_settings())
    config = LinkConfig(left=left, right=right, executor=executor, model=model,
                        chunk_size=chunk_size, link_key=link_key, concurrency=concurrency,
                        name_k=name_k, geo_k=geo_k)
    started: dict = {}

    def on_start(record) -> None:
        started["id"] = record.job_id
        console.print(f"job {record.job_id} ({record.status}); resume it with "
                      f"`recstack match link --left {left} --right {right} --job "
                      f"{record.job_id}`", highlight=False)

    record = _with_progress(
        lambda advance: jobs.link(config, job, advance=advance, on_start=on_start),
        total_of=lambda: jobs.status(started["id"]).total if "id" in started else None)
    _report(record)
    if record.status not in ("completed",):
        raise typer.Exit(1)


@jobs_app.command("list")
def jobs_list(limit: Annotated[int, typer.Option(help="newest first")] = 50) -> None:
    """Every link job with its status and request counts."""
    from recstack.matching.jobs import MatchJobs

    console.print(_job_table(MatchJobs(get_settings()).recent(limit)))


@jobs_app.command("status")
def jobs_status(job_id: Annotated[str, typer.Argument(help="the job id")]) -> None:
    """One job: status, counts, files."""
    from recstack.matching.jobs import MatchJobs

    _report(MatchJobs(get_settings()).status(job_id))


@jobs_app.command("retry")
def jobs_retry(job_id: Annotated[str, typer.Argument(help="the job id")]) -> None:
    """Send the job's failed requests again (only those)."""
    from recstack.matching.jobs import MatchJobs

    jobs = MatchJobs(get_settings())
    record = _with_progress(lambda advance: jobs.retry(job_id, advance))
    _report(record)
    if record.status != "completed":
        raise typer.Exit(1)


@jobs_app.command("cancel")
def jobs_cancel(job_id: Annotated[str, typer.Argument(help="the job id")]) -> None:
    """Cancel a job (a running one stops after its current chunk)."""
    from recstack.matching.jobs import MatchJobs

    _report(MatchJobs(get_settings()).cancel(job_id))
