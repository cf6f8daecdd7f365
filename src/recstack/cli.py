"""The ``recstack`` command line: a thin layer over the library functions.

Every command turns a ``RecstackError`` into a one-paragraph message and exit code 2; a
traceback means a bug.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from recstack.cli_options import parse_overrides
from recstack.embeddings.cli import app as embeddings_app
from recstack.errors import ConfigError, RecstackError
from recstack.features.cli import app as features_app
from recstack.monitoring.cli import app as monitoring_app
from recstack.settings import get_settings
from recstack.treatment.cli import app as treatment_app

app = typer.Typer(help="recstack: recommendations trained, served, monitored and trusted.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Datasets: generate, download, describe.", no_args_is_help=True)
models_app = typer.Typer(help="The model registry: list versions, move aliases.",
                         no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")
# One command group per system; each module keeps its heavy imports inside the commands.
app.add_typer(embeddings_app, name="embeddings")
app.add_typer(treatment_app, name="treatment")
app.add_typer(features_app, name="features")
app.add_typer(monitoring_app, name="monitor")
console = Console()


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False)], force=True)
    for noisy in ("mlflow", "alembic", "urllib3", "httpx", "gensim"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command()
def demo(serve: Annotated[bool, typer.Option("--serve/--no-serve",
                                             help="start the service afterwards")] = True,
         quick: Annotated[bool, typer.Option(help="tiny training budgets (smoke test)")] = False,
         ) -> None:
    """Generate travel data, train and register the baselines, then serve the champion."""
    from recstack.demo import example_requests, run_demo

    settings = get_settings()
    result = run_demo(settings, console, quick=quick)
    bundle_user = next(iter(_served_users(settings, result.champion.name)))
    console.print("\nTry:")
    for line in example_requests(settings, bundle_user):
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    if serve:
        _serve(settings.serving.host, settings.serving.port)


def _served_users(settings, name: str) -> list[str]:
    from recstack.sequential.pipeline import load_bundle

    bundle, _ = load_bundle(f"{name}@champion", settings)
    return list(bundle.histories)[:1]


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


@app.command()
def train(model: Annotated[str, typer.Argument(help="popularity, itemknn, …")],
          dataset: Annotated[str, typer.Option(help="catalogue name or file")] = "travel",
          split: Annotated[str, typer.Option(help="leave-one-out or temporal")] = "leave-one-out",
          set_: Annotated[list[str] | None, typer.Option("--set", help="key=value")] = None,
          register_as: Annotated[str | None, typer.Option(help="registered model name")] = None,
          promote: Annotated[str | None, typer.Option(help="alias to give the new version")] = None,
          item_features: Annotated[str | None, typer.Option(
              help="item metadata from the feature store, e.g. "
                   "product_metadata:city,product_metadata:category")] = None,
          ) -> None:
    """Train a model, log it to MLflow with validation metrics, and register it."""
    from recstack.registry.models import ModelRegistry
    from recstack.sequential.pipeline import TrainConfig
    from recstack.sequential.pipeline import train as train_model

    settings = get_settings()
    config = TrainConfig(model=model, dataset=dataset, split=split,
                         params=parse_overrides(set_ or []), register_as=register_as,
                         item_features=[f.strip() for f in item_features.split(",") if f.strip()]
                         if item_features else None)
    result = train_model(config, settings)
    console.print(result.valid.table())
    assert result.version is not None
    console.print(f"registered {result.version.name} version {result.version.version} "
                  f"(run {result.run_id})")
    if promote:
        ModelRegistry(settings).promote(result.version.name, result.version.version, promote)
        console.print(f"{result.version.name}@{promote} → version {result.version.version}")


@app.command()
def sweep(model: Annotated[str, typer.Argument(help="sasrec, bert4rec, …")],
          dataset: Annotated[str, typer.Option(help="catalogue name or file")] = "travel",
          preset: Annotated[str | None, typer.Option(
              help="length-batch or scheduler-lr (the travel team's two sweeps)")] = None,
          grid: Annotated[list[str] | None, typer.Option(help="key=v1,v2 (repeatable)")] = None,
          set_: Annotated[list[str] | None, typer.Option("--set", help="fixed key=value")] = None,
          out: Annotated[Path | None, typer.Option(help="folder for table and plots")] = None,
          ) -> None:
    """Train every combination as an MLflow run; write a comparison table and plots."""
    from recstack.sequential.sweep import SWEEP_PRESETS, parse_grid, run_sweep

    if preset is not None and preset not in SWEEP_PRESETS:
        raise ConfigError(f"unknown sweep preset {preset!r}", field="--preset",
                          fix=f"use one of: {', '.join(SWEEP_PRESETS)}")
    full_grid = {**(SWEEP_PRESETS[preset] if preset else {}), **parse_grid(grid or [])}
    result = run_sweep(model, dataset, full_grid, get_settings(),
                       base_params=parse_overrides(set_ or []), out_dir=out)
    table = Table(title=f"sweep of {model} on {dataset} (validation, full ranking)")
    for column in ("combination", "NDCG@10", "HR@10", "best epoch", "s/epoch", "fit s"):
        table.add_column(column, justify="right")
    for row in result.table.to_dict(orient="records"):
        table.add_row(row["label"], f"{row['valid_ndcg_at_10']:.4f}",
                      f"{row['valid_hr_at_10']:.4f}", str(row["best_epoch"]),
                      f"{row['seconds_per_epoch']:.2f}", f"{row['fit_seconds']:.1f}")
    console.print(table)
    console.print(f"table and plots in {result.out_dir}")


@app.command()
def evaluate(model: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME/VERSION")],
             ) -> None:
    """Score a registered model on its held-out test rows (full ranking)."""
    from recstack.sequential.pipeline import evaluate as evaluate_model

    result = evaluate_model(model, get_settings())
    console.print(result.table())


@app.command()
def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None) -> None:
    """Start the HTTP service (OpenAPI docs at /docs)."""
    settings = get_settings()
    _serve(host or settings.serving.host, port or settings.serving.port)


def _serve(host: str, port: int) -> None:
    import uvicorn

    from recstack.api.main import create_app

    console.print(f"serving on http://{host}:{port} (docs: /docs); Ctrl-C stops")
    uvicorn.run(create_app(get_settings()), host=host, port=port, log_level="info")


@models_app.command("list")
def models_list(name: Annotated[str | None, typer.Option(help="only this model")] = None) -> None:
    """Registered versions with their aliases and metrics."""
    from recstack.registry.models import ModelRegistry

    table = Table(title="registered models")
    for column in ("name", "version", "aliases", "type", "dataset", "valid NDCG@10",
                   "test NDCG@10"):
        table.add_column(column)
    for v in ModelRegistry(get_settings()).list(name):
        table.add_row(v.name, v.version, ", ".join(v.aliases), v.model_type,
                      v.tags.get("dataset", ""), v.tags.get("valid_ndcg_at_10", ""),
                      v.tags.get("test_ndcg_at_10", ""))
    console.print(table)


@models_app.command("promote")
def models_promote(name: str, version: str,
                   alias: Annotated[str, typer.Option(help="champion, challenger, …")] = "champion",
                   ) -> None:
    """Point an alias at a version; the service picks it up without a restart."""
    from recstack.registry.models import ModelRegistry

    info = ModelRegistry(get_settings()).promote(name, version, alias)
    console.print(f"{name}@{alias} → version {info.version} ({info.model_type})")


def main() -> None:
    """Entry point: user errors are printed, not raised."""
    try:
        app()
    except RecstackError as exc:
        console.print(f"[bold red]error[/bold red] {exc}", highlight=False)
        raise SystemExit(2) from None
