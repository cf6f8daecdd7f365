"""``recstack sequential …`` commands: train, evaluate and sweep next-item recommenders.

``recstack train|evaluate|sweep`` are kept as aliases of these (the first system had
top-level verbs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from recstack.cli_options import parse_overrides
from recstack.errors import ConfigError
from recstack.settings import get_settings

app = typer.Typer(help="Next-item recommenders: train, evaluate, sweep.", no_args_is_help=True)
console = Console()


@app.command()
def train(model: Annotated[str | None, typer.Argument(
              help="popularity, itemknn, … (or leave it out and give --recipe)")] = None,
          recipe: Annotated[str | None, typer.Option(
              help="a named recipe (`recstack sequential recipes`): its model, dataset, "
                   "settings and budget; --set, --dataset and --split override it")] = None,
          dataset: Annotated[str | None, typer.Option(
              help="catalogue name or file (default: travel, or the recipe's)")] = None,
          split: Annotated[str | None, typer.Option(
              help="leave-one-out or temporal (default: leave-one-out, or the recipe's)")] = None,
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
    features = ([f.strip() for f in item_features.split(",") if f.strip()]
                if item_features else None)
    overrides = parse_overrides(set_ or [])
    if recipe is not None:
        config = TrainConfig.from_recipe(recipe, overrides, dataset=dataset, split=split,
                                         register_as=register_as, item_features=features)
        if model is not None and model != config.model:
            raise ConfigError(f"recipe {recipe!r} trains {config.model!r}, not {model!r}",
                              field="model", fix=f"leave MODEL out with --recipe {recipe}")
    elif model is None:
        raise ConfigError("no model to train", field="model",
                          fix="name one (recstack sequential train sasrec) or give --recipe")
    else:
        config = TrainConfig(model=model, dataset=dataset or "travel",
                             split=split or "leave-one-out", params=overrides,
                             register_as=register_as, item_features=features)
    result = train_model(config, settings)
    console.print(result.valid.table())
    assert result.version is not None
    console.print(f"registered {result.version.name} version {result.version.version} "
                  f"(run {result.run_id}){f', recipe {recipe}' if recipe else ''}")
    if promote:
        ModelRegistry(settings).promote(result.version.name, result.version.version, promote)
        console.print(f"{result.version.name}@{promote} → version {result.version.version}")


@app.command()
def recipes() -> None:
    """List the named recipes: model, data, settings, budget and the figure each produced."""
    from recstack.sequential.recipes import RECIPES

    table = Table(title="sequential recipes (train one: recstack sequential train --recipe NAME)")
    for column in ("recipe", "model", "dataset", "settings", "budget", "figure", "measured"):
        table.add_column(column, overflow="fold")
    for item in RECIPES.values():
        figure = (f"{item.figure.headline} ({item.figure.date})" if item.figure
                  else "not run yet")
        table.add_row(item.name, item.model, f"{item.dataset} ({item.split})",
                      item.settings_text() or "-",
                      item.budget.describe(), figure, "yes" if item.measured else "no")
    console.print(table)


@app.command()
def sweep(model: Annotated[str, typer.Argument(help="sasrec, bert4rec, …")],
          dataset: Annotated[str, typer.Option(help="catalogue name or file")] = "travel",
          preset: Annotated[str | None, typer.Option(
              help="length-batch or scheduler-lr (the travel team's two sweeps)")] = None,
          grid: Annotated[list[str] | None, typer.Option(help="key=v1,v2 (repeatable)")] = None,
          set_: Annotated[list[str] | None, typer.Option("--set", help="fixed key=value")] = None,
          out: Annotated[Path | None, typer.Option(help="folder for table and plots")] = None,
          storage: Annotated[str | None, typer.Option(
              help="Optuna storage the workers share: sqlite:///sweep.db on one machine, "
                   "postgresql://user@host/db across machines")] = None,
          workers: Annotated[int, typer.Option(help="worker processes to start here")] = 1,
          study: Annotated[str | None, typer.Option(
              help="study name for workers joining from elsewhere (default: generated)")] = None,
          ) -> None:
    """Train every combination as an MLflow run; write a comparison table and plots."""
    from recstack.sequential.sweep import SWEEP_PRESETS, parse_grid, run_sweep

    if preset is not None and preset not in SWEEP_PRESETS:
        raise ConfigError(f"unknown sweep preset {preset!r}", field="--preset",
                          fix=f"use one of: {', '.join(SWEEP_PRESETS)}")
    full_grid = {**(SWEEP_PRESETS[preset] if preset else {}), **parse_grid(grid or [])}
    result = run_sweep(model, dataset, full_grid, get_settings(),
                       base_params=parse_overrides(set_ or []), out_dir=out, storage=storage,
                       workers=workers, study_name=study)
    table = Table(title=f"sweep of {model} on {dataset} (validation, full ranking)")
    for column in ("combination", "NDCG@10", "HR@10", "best epoch", "s/epoch", "fit s"):
        table.add_column(column, justify="right")
    for row in result.table.to_dict(orient="records"):
        table.add_row(row["label"], f"{row['valid_ndcg_at_10']:.4f}",
                      f"{row['valid_hr_at_10']:.4f}", str(row["best_epoch"]),
                      f"{row['seconds_per_epoch']:.2f}", f"{row['fit_seconds']:.1f}")
    console.print(table)
    console.print(f"table and plots in {result.out_dir} (Optuna study {result.study_name})")


@app.command("sweep-worker")
def sweep_worker(storage: Annotated[str, typer.Option(help="the sweep's Optuna storage URL")],
                 study: Annotated[str, typer.Option(help="the study name the sweep printed")],
                 ) -> None:
    """Join a running sweep (``sweep --storage``) and train its grid points until none is left."""
    from recstack.sequential.sweep_worker import run_worker

    trained = run_worker(storage, study, get_settings(), progress=True)
    console.print(f"this worker trained {trained} combination(s) of {study}")


@app.command()
def evaluate(model: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME/VERSION")],
             ) -> None:
    """Score a registered model on its held-out test rows (full ranking)."""
    from recstack.sequential.pipeline import evaluate as evaluate_model

    result = evaluate_model(model, get_settings())
    console.print(result.table())
