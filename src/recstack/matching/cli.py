"""``recstack match …`` commands: train, evaluate, predict and block, thin over the library."""

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
