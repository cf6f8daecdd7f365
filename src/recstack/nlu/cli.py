"""``recstack nlu …`` commands: train, evaluate, parse and vocab-check, thin over the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from recstack.cli_options import parse_overrides
from recstack.settings import get_settings

app = typer.Typer(help="Travel NLU: intent and entities in Korean travel questions.",
                  no_args_is_help=True)
console = Console()
ModelRef = Annotated[str | None, typer.Option(
    "--model", help="NAME, NAME@ALIAS or NAME/VERSION; default RECSTACK_NLU__DEFAULT_MODEL")]


def _metrics_table(title: str, metrics: dict[str, float]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4f}")
    return table


@app.command()
def train(model: Annotated[str, typer.Argument(help="rules, crf or joint-e5")] = "crf",
          seed: Annotated[int, typer.Option(help="data generation and split seed")] = 0,
          set_: Annotated[list[str] | None, typer.Option("--set", help="key=value")] = None,
          name: Annotated[str, typer.Option(help="registered model name")] = "travel-nlu",
          gazetteer: Annotated[str, typer.Option(
              help="full (training places + the world gazetteer) or train (training places "
                   "only: held-out places stay unseen)")] = "full",
          promote: Annotated[str | None, typer.Option(help="alias to give the new version")] = None,
          saved: Annotated[Path | None, typer.Option(
              help="register a model fitted elsewhere on the same splits (the folder its "
                   "save() wrote, e.g. on a GPU machine) instead of fitting one")] = None,
          ) -> None:
    """Fit on the generated questions, log to MLflow with validation metrics, register."""
    from recstack.nlu.pipeline import NLUTrainConfig
    from recstack.nlu.pipeline import train as train_model
    from recstack.registry.models import ModelRegistry

    settings = get_settings()
    result = train_model(NLUTrainConfig(model=model, seed=seed, register_as=name,
                                        gazetteer=gazetteer, saved=str(saved) if saved else None,
                                        params=dict(parse_overrides(set_ or []))), settings)
    console.print(_metrics_table(f"{model}: validation (held-out templates and places)",
                                 result.valid))
    assert result.version is not None
    console.print(f"registered {name} version {result.version.version} "
                  f"({result.fit_seconds:.1f} s to fit)")
    if promote:
        ModelRegistry(settings).promote(name, result.version.version, promote)
        console.print(f"{name}@{promote} → version {result.version.version}")


@app.command()
def evaluate(model: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME/VERSION")],
             ) -> None:
    """Score a registered model on the test questions (unseen templates and place names)."""
    from recstack.nlu.pipeline import evaluate as evaluate_model

    console.print(_metrics_table(f"{model}: test", evaluate_model(model, get_settings())))


@app.command()
def parse(text: Annotated[str | None, typer.Argument(help="one question")] = None,
          input_: Annotated[Path | None, typer.Option(
              "--input", help="JSONL file, one {\"text\": …} per line")] = None,
          output: Annotated[Path | None, typer.Option(
              help="JSONL file to write; default: standard output")] = None,
          model: ModelRef = None) -> None:
    """One JSON line per question: text, intent, intent_score, entities (character spans)."""
    from recstack.errors import ConfigError
    from recstack.nlu.pipeline import load_bundle, read_jsonl_texts
    from recstack.nlu.system import SPEC

    if (text is None) == (input_ is None):
        raise ConfigError("give a question or --input FILE.jsonl, not both", field="text",
                          fix='recstack nlu parse "홋카이도 3박4일 일정 짜줘"')
    texts = [text] if text is not None else read_jsonl_texts(input_)  # type: ignore[arg-type]
    if text is not None and not text.strip():
        raise ConfigError("the question is empty", field="text", fix="pass the question text")
    settings = get_settings()
    ref = model or SPEC.settings_of(settings).default_model
    bundle, _ = load_bundle(ref, settings)
    lines = [json.dumps(p.to_dict(), ensure_ascii=False) for p in bundle.parse(texts)]
    if output is None:
        sys.stdout.write("\n".join(lines) + "\n")
    else:
        output.write_text("\n".join(lines) + "\n", encoding="utf-8")
        console.print(f"{len(lines):,} parses → {output}")


@app.command("vocab-check")
def vocab_check(
        words: Annotated[Path | None, typer.Option(
            help="word list, one per line; default: the gazetteer's place names")] = None,
        tokenizer: Annotated[str, typer.Option(
            help="e5 (the converted encoder's) or a folder with a transformers tokenizer")] = "e5",
        add_to: Annotated[Path | None, typer.Option(
            help="a transformers model folder: add the words that give UNK as tokens, resize "
                 "its embeddings and save it back")] = None,
        show: Annotated[int, typer.Option(help="rows of the per-word table")] = 20,
        as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
        ) -> None:
    """UNK rate and word pieces of a tokenizer over domain words; optionally add them."""
    from recstack.nlu.vocab import run_vocab_check

    run_vocab_check(get_settings(), console, words=words, tokenizer=tokenizer, add_to=add_to,
                    show=show, as_json=as_json)
