"""The ``recstack`` command line: a thin layer over the library functions.

Spine groups (data, models, features, monitor) are declared here; every installed system adds
its own group from its spec (:mod:`recstack.systems`). Every command turns a ``RecstackError``
into a one-paragraph message and exit code 2; a traceback means a bug.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from recstack.errors import RecstackError, missing_extra
from recstack.features.cli import app as features_app
from recstack.monitoring.cli import app as monitoring_app
from recstack.pipelines.cli import build_app as build_pipeline_app
from recstack.settings import get_settings
from recstack.system import SystemSpec, resolve
from recstack.systems import installed_systems

data_app = typer.Typer(help="Datasets: generate, download, describe.", no_args_is_help=True)
models_app = typer.Typer(help="The model registry: list versions, move aliases.",
                         no_args_is_help=True)
console = Console()
# The first system had top-level verbs; they stay as aliases of `recstack sequential …`.
TOP_LEVEL_ALIASES = {"sequential": ("train", "evaluate", "sweep")}
# Command groups a system adds beside its own (`recstack packages …` belongs to matching).
EXTRA_GROUPS = {"matching": (("packages", "recstack.matching.packages_cli:app"),)}


def build_app(specs: list[SystemSpec] | None = None) -> typer.Typer:
    """The ``recstack`` command: spine commands and groups, then one group per system."""
    specs = installed_systems() if specs is None else specs
    root = typer.Typer(help="recstack: recommendations trained, served, monitored and trusted.",
                       no_args_is_help=True, pretty_exceptions_enable=False)
    root.callback()(_setup)
    for function in (demo, serve, show_settings):
        root.command(function.__name__.removeprefix("show_"))(function)
    root.add_typer(data_app, name="data")
    root.add_typer(models_app, name="models")
    root.add_typer(features_app, name="features")
    root.add_typer(monitoring_app, name="monitor")
    root.add_typer(build_pipeline_app(specs), name="pipeline")
    for spec in specs:
        if spec.cli is None:
            continue
        group: typer.Typer = resolve(spec.cli, field=f"{spec.name}: cli")
        root.add_typer(group, name=spec.command, help=spec.summary)
        for command in group.registered_commands:
            name = command.name or (command.callback.__name__ if command.callback else "")
            if command.callback is not None and name in TOP_LEVEL_ALIASES.get(spec.name, ()):
                root.command(name, help=f"Alias of `recstack {spec.command} {name}`.")(
                    command.callback)
        for extra, target in EXTRA_GROUPS.get(spec.name, ()):
            root.add_typer(resolve(target, field=f"{spec.name}: cli"), name=extra)
    return root


def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False)], force=True)
    for noisy in ("mlflow", "alembic", "urllib3", "httpx", "gensim"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def demo(serve: Annotated[bool, typer.Option("--serve/--no-serve",
                                             help="start the service afterwards")] = True,
         quick: Annotated[bool, typer.Option(help="tiny training budgets (smoke test)")] = False,
         plan: Annotated[bool, typer.Option("--plan", help="list the steps, run nothing")] = False,
         ) -> None:
    """Every system through the lifecycle on synthetic data, then serve the champions."""
    from recstack.demo import demo_plan, example_requests, run_demo

    settings = get_settings()
    specs = installed_systems()
    if plan:
        for number, (name, step) in enumerate(demo_plan(specs), start=1):
            console.print(f"{number}. {name}: {step.title}")
        return
    result = run_demo(settings, specs, console, quick=quick)
    console.print("\nTry:")
    for line in example_requests(settings, result):
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    if serve:
        _serve(settings.serving.host, settings.serving.port)


@data_app.command("generate-travel")
def data_generate_travel(
        out: Annotated[Path | None,
                       typer.Option(help="folder; default: <home>/data/travel")] = None,
        users: int = 2000, products: int = 600, seed: int = 0) -> None:
    """Write the synthetic travel data set (events, products, users)."""
    from recstack.data.synthetic import TravelConfig, generate_travel

    folder = out or get_settings().data_home / "travel"
    with console.status("generating"):
        data = generate_travel(TravelConfig(n_users=users, n_products=products, seed=seed))
        paths = data.write(folder)
    console.print(f"{len(data.events):,} events for {users:,} users → {folder}")
    for path in paths.values():
        console.print(f"  {path}")


@data_app.command("download")
def data_download(name: Annotated[str, typer.Argument(help="ml-1m or ml-100k")],
                  dest: Annotated[Path | None, typer.Option()] = None) -> None:
    """Download a MovieLens set (needs network; checks the published MD5)."""
    from recstack.data.movielens import download_movielens

    folder = download_movielens(name, dest or get_settings().data_home)
    console.print(f"{name} → {folder}")


@data_app.command("info")
def data_info(dataset: Annotated[str, typer.Argument(help="travel, ml-1m-t2, ml-100k, ml-1m "
                                                            "or a .csv/.parquet path")]) -> None:
    """Size and sequence-length statistics of a dataset."""
    import numpy as np

    from recstack.data.catalog import load_dataset

    ds = load_dataset(dataset, get_settings())
    lengths = np.array([len(s) for s in ds.sequences])
    table = Table(title=dataset)
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for key, value in [("users", ds.n_users), ("items", ds.n_items),
                       ("interactions", ds.n_interactions), ("shortest sequence", lengths.min()),
                       ("median sequence", int(np.median(lengths))),
                       ("longest sequence", lengths.max()),
                       ("item metadata", ", ".join(ds.item_metadata.columns)
                        if ds.item_metadata is not None else "-")]:
        table.add_row(key, f"{value:,}" if isinstance(value, int | np.integer) else str(value))
    console.print(table)


def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None,
          workers: Annotated[str | None, typer.Option(
              help="1: one uvicorn process; N or 'auto': gunicorn with N uvicorn workers, "
                   "'auto' sized by memory (default: RECSTACK_SERVING__WORKERS)")] = None,
          ) -> None:
    """Start the HTTP service (OpenAPI docs at /docs)."""
    settings = get_settings()
    _serve(host or settings.serving.host, port or settings.serving.port, workers)


def _serve(host: str, port: int, workers: str | int | None = None) -> None:
    from pydantic import ValidationError

    from recstack.errors import ConfigError
    from recstack.settings import ServingSettings

    settings = get_settings()
    try:
        count = settings.serving.workers if workers is None else \
            ServingSettings(workers=workers).workers
    except ValidationError as exc:
        raise ConfigError(exc.errors()[0]["msg"], field="--workers",
                          fix="give a whole number >= 1 or auto") from None
    from recstack import server

    # Before any model loads (torch reads the variables when it loads): this process's app,
    # the worker `auto` measures and gunicorn's workers all inherit them.
    server.limit_worker_threads(settings.serving.worker_threads)
    if count == 1:
        import uvicorn

        from recstack.api.main import create_app

        console.print(f"serving on http://{host}:{port} (docs: /docs); Ctrl-C stops")
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    if count == "auto":
        with console.status("measuring one warm worker (gunicorn, champions loaded)"):
            memory = server.measure_worker()
        limit, source = server.memory_limit(settings)
        console.print(f"one warm worker: RSS {server.mib(memory.rss)}, unique "
                      f"{server.mib(memory.uss)}, master {server.mib(memory.master_rss)}, "
                      f"warm in {memory.seconds:.1f} s; models: "
                      f"{', '.join(memory.models) or 'none'}", highlight=False, markup=False)
        plan = server.plan_workers(memory, limit, cpus=server.cpu_count(), limit_source=source)
        console.print(f"workers: {plan.describe()}", highlight=False, markup=False)
        count = plan.workers
    console.print(f"serving on http://{host}:{port} with gunicorn, {count} workers "
                  "(docs: /docs); SIGTERM or Ctrl-C stops, SIGHUP reloads")
    server.run_gunicorn(host, port, count)


@models_app.command("list")
def models_list(name: Annotated[str | None, typer.Option(help="only this model")] = None) -> None:
    """Registered versions with their aliases, kind and the metrics their kind reports."""
    from recstack.registry.models import ModelRegistry
    from recstack.system import kind_of
    from recstack.systems import model_kinds

    kinds = model_kinds().as_dict().values()
    table = Table(title="registered models")
    for column in ("name", "version", "aliases", "kind", "type", "dataset", "metrics"):
        table.add_column(column)
    for v in ModelRegistry(get_settings()).list(name):
        kind = kind_of(v.tags, kinds)
        metrics = [f"{m}={value}" for m, value in
                   (kind.reported_metrics(v.tags) if kind else {}).items()]
        table.add_row(v.name, v.version, ", ".join(v.aliases), kind.name if kind else "?",
                      v.model_type, v.tags.get("dataset", ""), "\n".join(metrics))
    console.print(table)


@models_app.command("promote")
def models_promote(name: str, version: str,
                   alias: Annotated[str, typer.Option(help="champion, challenger, …")] = "champion",
                   ) -> None:
    """Point an alias at a version; the service picks it up without a restart."""
    from recstack.registry.models import ModelRegistry

    info = ModelRegistry(get_settings()).promote(name, version, alias)
    console.print(f"{name}@{alias} → version {info.version} ({info.model_type})")


def show_settings() -> None:
    """Every settings section (spine and each system) with its current value; secrets hidden."""
    settings = get_settings()
    table = Table(title="settings (RECSTACK_<SECTION>__<FIELD>)")
    for column in ("variable", "value", "description"):
        table.add_column(column)
    spine = {name: getattr(settings, name) for name in type(settings).model_fields
             if name != "systems"}
    sections = {**spine, **{spec.name: spec.settings_of(settings)
                            for spec in installed_systems()}}
    for section, value in sections.items():
        if not hasattr(value, "model_fields"):
            table.add_row(f"RECSTACK_{section.upper()}", str(value), "")
            continue
        for field_name, info in type(value).model_fields.items():
            table.add_row(f"RECSTACK_{section.upper()}__{field_name.upper()}",
                          str(getattr(value, field_name)), info.description or "")
    console.print(table)


def main() -> None:
    """Entry point: user errors are printed, not raised."""
    try:
        build_app()()
    except RecstackError as exc:
        console.print(f"[bold red]error[/bold red] {escape(str(exc))}", highlight=False)
        raise SystemExit(2) from None
    except ModuleNotFoundError as exc:
        error = missing_extra(exc)
        if error is None:
            raise
        console.print(f"[bold red]error[/bold red] {escape(str(error))}", highlight=False)
        raise SystemExit(2) from None


def __getattr__(name: str) -> typer.Typer:
    # ``from recstack.cli import app``: the command built from the installed systems.
    if name == "app":
        return build_app()
    raise AttributeError(f"module 'recstack.cli' has no attribute {name!r}")
