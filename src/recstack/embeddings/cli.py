"""``recstack embeddings …`` commands: thin wrappers over the library functions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from recstack.cli_options import parse_overrides

app = typer.Typer(help="Item embeddings: train, evaluate, serve 'viewed together'.",
                  no_args_is_help=True)
console = Console()


def _metrics_table(title: str, metrics: dict[str, float]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("all rows", justify="right")
    table.add_column("cold items", justify="right")
    for name in ("n_rows", "hr_at_10", "ndcg_at_10", "mrr", "coverage_at_10"):
        values = [metrics.get(name), metrics.get(f"cold_{name}")]
        table.add_row(name, *("" if v is None else f"{v:,.0f}" if name == "n_rows"
                              else f"{v:.4f}" for v in values))
    return table


@app.command()
def train(model: Annotated[str, typer.Argument(help="meta-prod2vec, prod2vec, "
                                                    "prod2vec-torch or itemknn")] = "meta-prod2vec",
          dataset: Annotated[str, typer.Option(help="travel or ml-1m-t2")] = "travel",
          set_: Annotated[list[str] | None, typer.Option("--set", help="key=value")] = None,
          index: Annotated[str, typer.Option(help="exact, faiss-hnsw or usearch")] = "usearch",
          register_as: Annotated[str | None, typer.Option(
              help="registered model name; default <dataset>-similar-items")] = None,
          register: Annotated[bool, typer.Option(help="register the model")] = True,
          promote: Annotated[str | None, typer.Option(help="alias to give the new version")] = None,
          scoring: Annotated[str, typer.Option(
              help="Meta-Prod2Vec scoring chosen on validation: balanced (beat item-kNN and "
                   "Prod2Vec on overall and cold metrics at once), overall (best NDCG@10) or "
                   "fixed (the --set values)")] = "balanced",
          ) -> None:
    """Fit item embeddings, log validation metrics to MLflow and register the bundle."""
    from recstack.embeddings.pipeline import EmbeddingTrainConfig
    from recstack.embeddings.pipeline import train as train_model
    from recstack.registry.models import ModelRegistry
    from recstack.settings import get_settings

    settings = get_settings()
    config = EmbeddingTrainConfig(model=model, dataset=dataset, params=parse_overrides(set_ or []),
                                  register_as=register_as, index=index, scoring=scoring)
    with console.status(f"training {model} on {dataset}"):
        result = train_model(config, settings, register=register, progress=False)
    console.print(_metrics_table(f"{model} on {dataset}: validation next view", result.valid))
    console.print(f"fitted in {result.fit_seconds:.1f} s (run {result.run_id})")
    if result.version is not None:
        console.print(f"registered {result.version.name} version {result.version.version}")
        if promote:
            ModelRegistry(settings).promote(result.version.name, result.version.version, promote)
            console.print(f"{result.version.name}@{promote} → version {result.version.version}")


@app.command()
def evaluate(model: Annotated[str, typer.Argument(
        help="NAME, NAME@ALIAS or NAME/VERSION")] = "travel-similar-items@champion") -> None:
    """Score a registered model on the held-out test views (overall and cold items)."""
    from recstack.embeddings.pipeline import evaluate as evaluate_model
    from recstack.settings import get_settings

    result = evaluate_model(model, get_settings(), progress=False)
    console.print(_metrics_table(f"{model}: test next view, full ranking", result))


@app.command()
def similar(item_id: str,
            model: Annotated[str, typer.Option()] = "travel-similar-items@champion",
            k: int = 10,
            city: Annotated[str | None, typer.Option()] = None,
            category: Annotated[str | None, typer.Option()] = None) -> None:
    """Items most often viewed together with ITEM_ID."""
    from recstack.embeddings.pipeline import load_bundle
    from recstack.settings import get_settings

    bundle, _ = load_bundle(model, get_settings())
    filters = {n: v for n, v in (("city", city), ("category", category)) if v is not None}
    table = Table(title=f"viewed together with {item_id}")
    for column in ("rank", "item_id", "score", "metadata"):
        table.add_column(column)
    for rank, item in enumerate(bundle.similar(item_id, k, filters or None), start=1):
        table.add_row(str(rank), item.item_id, f"{item.score:.3f}",
                      ", ".join(f"{key}={value}" for key, value in item.metadata.items()))
    console.print(table)


@app.command()
def report(results: Annotated[Path, typer.Option(help="JSON from benchmarks/embeddings.py")]
           = Path("benchmarks/results/embeddings.json"),
           model: Annotated[list[str] | None, typer.Option(
               help="registered models to map (repeatable)")] = None,
           out: Annotated[Path, typer.Option(help="folder for the HTML and PNGs")]
           = Path("reports/embeddings"),
           method: Annotated[str, typer.Option(help="tsne or pca")] = "tsne") -> None:
    """HTML report: evaluation table and 2-D maps of item vectors by city / genre."""
    from recstack.embeddings.report import build_report
    from recstack.settings import get_settings

    path = build_report(results, model or ["travel-similar-items@champion"], out,
                        get_settings(), method=method)
    console.print(f"report → {path}")
