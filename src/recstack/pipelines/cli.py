"""``recstack pipeline list|run``: run a pipeline in this process, with progress.

The same task functions run under Airflow (``dags/``); locally ``--date D`` stands for the data
interval a daily scheduler would give, ``[D, D + 1 day)``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from recstack.errors import ConfigError

if TYPE_CHECKING:
    from recstack.system import SystemSpec

console = Console()


def parse_params(pairs: list[str] | None) -> dict[str, str]:
    """``["k=v", …]`` → ``{"k": "v"}``; the pipeline types and checks the values."""
    params: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{pair!r} is not KEY=VALUE", field="--param",
                              fix="write --param NAME=VALUE, e.g. --param model=crf")
        params[key.strip()] = value
    return params


def build_app(specs: list[SystemSpec]) -> typer.Typer:
    """The ``recstack pipeline`` group over the pipelines of ``specs``."""
    app = typer.Typer(help="Pipelines: list them, run one for a date (as Airflow would).",
                      no_args_is_help=True)

    @app.command("list")
    def list_pipelines() -> None:
        """Every pipeline: its system, schedule, tasks and parameters."""
        from recstack.pipelines.runner import pipelines_of

        table = Table(title="pipelines (Airflow DAG recstack_<name>)")
        for column in ("name", "system", "schedule", "tasks", "parameters (default)"):
            table.add_column(column)
        for pipeline in pipelines_of(specs).values():
            table.add_row(pipeline.name, pipeline.system, pipeline.schedule,
                          " → ".join(t.name for t in pipeline.tasks),
                          "\n".join(f"{p.name}={p.default!r}: {p.help}"
                                    for p in pipeline.params))
        console.print(table)

    @app.command("run")
    def run(name: Annotated[str, typer.Argument(help="see `recstack pipeline list`")],
            date: Annotated[str | None, typer.Option(
                help="first day of the data interval, YYYY-MM-DD; default: yesterday")] = None,
            param: Annotated[list[str] | None, typer.Option(
                "--param", "-p", help="NAME=VALUE (repeatable)")] = None) -> None:
        """Run every task of one pipeline for one interval, in this process."""
        import pandas as pd

        from recstack.pipelines.base import day_interval
        from recstack.pipelines.runner import find_pipeline, run_pipeline
        from recstack.settings import get_settings

        pipeline = find_pipeline(specs, name)
        day = date or (pd.Timestamp.now(tz="UTC").floor("D") - pd.Timedelta(days=1))
        start, end = day_interval(day, pipeline)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            bars: dict[str, Any] = {t.name: progress.add_task(f"[dim]{t.name}", total=1)
                                    for t in pipeline.tasks}

            def on_task(task: str, state: str, summary: dict[str, Any] | None) -> None:
                if state == "start":
                    progress.update(bars[task], description=f"[bold]{task}")
                    progress.start_task(bars[task])
                else:
                    progress.update(bars[task], completed=1,
                                    description=f"[green]{task}[/green] {_brief(summary)}")

            summaries = run_pipeline(get_settings(), pipeline, params=parse_params(param),
                                     start=start, end=end, on_task=on_task)
        console.print(f"{pipeline.name} [{start:%Y-%m-%d}, {end:%Y-%m-%d}) done")
        console.print_json(json.dumps(summaries, default=str))

    return app


def _brief(summary: dict[str, Any] | None) -> str:
    if not summary:
        return ""
    keys = [k for k in ("skipped", "version", "champion", "records", "matches", "alerts")
            if k in summary]
    return "  ".join(f"{k}={summary[k]}" for k in keys)[:100]
