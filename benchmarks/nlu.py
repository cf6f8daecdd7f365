"""Travel NLU: every registered model on held-out templates and place names, plus KLUE-NER.

Each model in ``recstack.nlu.models`` (rules, crf, and the fine-tuned encoder once registered)
is fitted on the generated training questions and scored on the validation questions and on
the TEST questions, whose templates and place names training never saw, with both gazetteer
settings: ``train`` (only the training questions' places: held-out places are truly unseen)
and ``full`` (plus the world gazetteer, what a deployment has). Rows report intent accuracy
and macro-F1, entity precision/recall/F1 (exact type and character span) and F1 per type, fit
seconds and parse latency on this machine. The rules baseline is the reference measured in the
same run. Models are built from their classes directly: nothing is logged to MLflow.

KLUE-NER (optional): a CRF with KLUE's own tags trained on the train part of KLUE's dev file
(``split_klue_ner``) and scored on its held-out 20%, printed beside KLUE's published
dev-set baselines, which are on the WHOLE dev set with pretrained transformers: a different
evaluation set and a different kind of model.

    PYTHONPATH=src .venv/bin/python benchmarks/nlu.py [--models rules crf] [--threads 1]

Writes ``benchmarks/results/nlu.json`` and prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"
GAZETTEERS = ("train", "full")
# Issue 14's targets for the fine-tuned encoder on the test questions; every row says whether
# it meets them, so the encoder's row and the others read the same way.
TARGETS = {"intent_accuracy": 0.97, "entity_f1": 0.93}
# KLUE's published dev-set entity F1 (KLUE paper, as cited in issue 14): whole dev set.
KLUE_PUBLISHED = {"XLM-R-base": 0.807, "KLUE-RoBERTa-base": 0.851}
LATENCY_WARMUP = 10


def _limit_threads(threads: int | None) -> None:
    """Caps BLAS/OpenMP threads before numpy, scipy or torch load (they read these once)."""
    if threads is None:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[var] = str(threads)


def _metrics(result: dict[str, Any], *, confusion: bool = False) -> dict[str, Any]:
    intent, entities = result["intent"], result["entities"]
    out = {"n": result["n"], "intent_accuracy": intent["accuracy"],
           "intent_macro_f1": intent["macro_f1"], "entity_precision": entities["precision"],
           "entity_recall": entities["recall"], "entity_f1": entities["f1"],
           "entity_tp": entities["tp"], "entity_fp": entities["fp"], "entity_fn": entities["fn"],
           "per_type": {t: {"f1": s["f1"], "precision": s["precision"], "recall": s["recall"],
                            "support": s["support"]}
                        for t, s in entities["per_type"].items() if s["support"] or s["f1"]},
           "per_intent_f1": {i: s["f1"] for i, s in intent["per_intent"].items()}}
    if confusion:
        out["intent_confusion"] = intent["confusion"]
    return out


def _latency(model: Any, texts: list[str], n_single: int) -> dict[str, float]:
    """Batch 1: p50/p99 of one ``parse([text])`` call; batch 64: mean time per question."""
    for text in texts[:LATENCY_WARMUP]:
        model.parse([text])
    single = []
    for text in texts[:n_single]:
        started = time.perf_counter()
        model.parse([text])
        single.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    for i in range(0, len(texts), 64):
        model.parse(texts[i:i + 64])
    batched = (time.perf_counter() - started) * 1000 / len(texts)
    cuts = statistics.quantiles(single, n=100, method="inclusive")
    return {"batch1_n": len(single), "batch1_p50_ms": statistics.median(single),
            "batch1_p99_ms": cuts[98], "batch64_n": len(texts),
            "batch64_ms_per_question": batched}


def _accepts(cls: Any, name: str) -> bool:
    params = inspect.signature(cls.__init__).parameters
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def run_model(name: str, splits: Any, settings: Any, args: argparse.Namespace,
              console: Console) -> list[dict[str, Any]]:
    from recstack.nlu.evaluation import evaluate
    from recstack.nlu.models import nlu_model_class
    from recstack.nlu.pipeline import NLUTrainConfig, gazetteer_for, swap_names_for

    cls = nlu_model_class(name)
    saved_paths = [path for key, path in (kv.split("=", 1) for kv in args.saved) if key == name]
    params: dict[str, Any] = {}
    if args.budget_minutes is not None and _accepts(cls, "max_minutes"):
        params["max_minutes"] = args.budget_minutes
    if args.threads is not None and _accepts(cls, "threads"):
        params["threads"] = args.threads
    settings_for = tuple(g for g in args.gazetteers if g in GAZETTEERS) \
        if _accepts(cls, "gazetteer") else ("none",)
    runs = [(g, None) for g in settings_for]
    if saved_paths:  # scored with the gazetteer nlu_joint_probe.py trains with by default
        runs = [("full", path) for path in saved_paths]
    rows = []
    for gazetteer, saved in runs:
        kwargs = dict(params)
        if gazetteer != "none":
            kwargs["gazetteer"] = gazetteer_for(NLUTrainConfig(model=name, gazetteer=gazetteer),
                                                splits, settings)
            if _accepts(cls, "swap_names"):
                kwargs["swap_names"] = swap_names_for(kwargs["gazetteer"], splits)
        if saved:
            # A model trained earlier on these splits (e.g. by nlu_joint_probe.py): scored
            # here; its fit time is the sum of its recorded epochs.
            console.print(f"[{name}] loading {saved}", markup=False)
            model = cls.load(saved)
            fit_seconds = sum(e.seconds for e in model.history_.epochs)
            if args.tune_thresholds and hasattr(model, "tune_span_thresholds"):
                # What fit does now, for models saved before it did: span thresholds chosen
                # on the VALIDATION questions (the test questions choose nothing).
                chosen = model.tune_span_thresholds(splits.valid)
                console.print(f"  span thresholds chosen on valid: {chosen}", markup=False)
            params = {"saved": saved, "trained_on": model.history_.device, "config": {
                k: v for k, v in vars(model.config).items() if not k.startswith("_")}}
        else:
            console.print(f"[{name} / gazetteer={gazetteer}] fitting on {len(splits.train)} "
                          f"questions {params or ''}", markup=False)
            model = cls(**kwargs)
            started = time.perf_counter()
            model.fit(splits.train, valid=splits.valid)
            fit_seconds = time.perf_counter() - started
        valid = _metrics(evaluate(model, splits.valid))
        test = _metrics(evaluate(model, splits.test), confusion=True)
        latency = _latency(model, [e.text for e in splits.test], args.latency_n)
        console.print(f"  fit {fit_seconds:.1f} s; test intent acc {test['intent_accuracy']:.4f}"
                      f", entity F1 {test['entity_f1']:.4f}")
        rows.append({"model": name, "gazetteer": gazetteer, "params": params,
                     "fit_seconds": fit_seconds, "valid": valid, "test": test,
                     "latency": latency,
                     "meets_issue_targets_on_test": {
                         k: bool(test[k] >= v) for k, v in TARGETS.items()}})
    return rows


def run_klue(settings: Any, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    from recstack.nlu.crf import CRFNLU
    from recstack.nlu.evaluation import evaluate
    from recstack.nlu.klue import KLUE_TYPES, load_klue_ner, split_klue_ner
    from recstack.nlu.schema import Example

    sentences = load_klue_ner(settings.shared_data_dir / "klue-ner")
    train, test = split_klue_ner(sentences, test_fraction=0.2)
    # Entities only: KLUE sentences have no intent; CRFNLU with KLUE's tag set uses no travel
    # gazetteer or rules features and fits no intent classifier.
    params = {"entity_types": list(KLUE_TYPES), "max_iterations": args.klue_max_iterations}
    console.print(f"[KLUE-NER] fitting a CRF on {len(train)} sentences {params}",
                  markup=False)
    model = CRFNLU(entity_types=KLUE_TYPES, max_iterations=args.klue_max_iterations)
    started = time.perf_counter()
    model.fit([Example(text, "other", spans) for text, spans in train])
    fit_seconds = time.perf_counter() - started
    result = evaluate(model, [Example(text, "other", spans) for text, spans in test])
    entities = result["entities"]
    console.print(f"  fit {fit_seconds:.1f} s; held-out entity F1 {entities['f1']:.4f}")
    return {
        "data": "KLUE-NER v1.1 dev (5,000 sentences; the train file is not public)",
        "split": "split_klue_ner(test_fraction=0.2): by a hash of each sentence",
        "n_train": len(train), "n_test": len(test), "model": "crf", "params": params,
        "fit_seconds": fit_seconds,
        "entity_precision": entities["precision"], "entity_recall": entities["recall"],
        "entity_f1": entities["f1"], "entity_tp": entities["tp"], "entity_fp": entities["fp"],
        "entity_fn": entities["fn"],
        "per_type": {t: {"f1": entities["per_type"][t]["f1"],
                         "support": entities["per_type"][t]["support"]} for t in KLUE_TYPES},
        "metric": "micro entity F1, exact type and character span",
        "published_baselines_full_dev_entity_f1": KLUE_PUBLISHED,
        "comparability": "NOT the same evaluation set: ours is a 20% held-out sample of the dev "
                         "set, trained on the other 80% (4k sentences); the published numbers "
                         "are pretrained transformers fine-tuned on KLUE's 21k-sentence train "
                         "set and scored on the whole dev set"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None,
                        help="names from recstack.nlu.models (default: all registered)")
    parser.add_argument("--seed", type=int, default=0, help="generation and split seed")
    parser.add_argument("--sizes", type=int, nargs=3, default=(6000, 1000, 1500),
                        metavar=("TRAIN", "VALID", "TEST"))
    parser.add_argument("--threads", type=int, default=None,
                        help="cap on BLAS/OpenMP/torch threads (default: the libraries' own)")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="wall-clock budget per fit, passed as max_minutes to models "
                             "that take it")
    parser.add_argument("--latency-n", type=int, default=300,
                        help="test questions timed one at a time (batch 1)")
    parser.add_argument("--gazetteers", nargs="+", default=list(GAZETTEERS),
                        choices=list(GAZETTEERS), help="gazetteer settings to measure")
    parser.add_argument("--saved", nargs="*", default=[], metavar="MODEL=PATH",
                        help="score a model saved earlier on the same splits with the full "
                             "gazetteer instead of fitting it")
    parser.add_argument("--tune-thresholds", action=argparse.BooleanOptionalAction,
                        default=True, help="choose a saved model's span thresholds on the "
                                           "validation questions, as fit does")
    parser.add_argument("--klue", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--klue-max-iterations", type=int, default=200)
    parser.add_argument("--shared-data", type=Path, default=None,
                        help="shared data folder (default: the settings' data.shared_dir)")
    parser.add_argument("--out", type=Path, default=RESULTS / "nlu.json")
    args = parser.parse_args()
    _limit_threads(args.threads)
    run_started = time.perf_counter()

    from recstack.nlu.data import make_splits
    from recstack.nlu.models import nlu_models
    from recstack.settings import Settings

    settings = Settings()
    if args.shared_data is not None:
        settings = settings.model_copy(update={"data": settings.data.model_copy(
            update={"shared_dir": args.shared_data})})
    registered = nlu_models()
    models = args.models or registered
    unknown = sorted(set(models) - set(registered))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; registered: {registered}")
    if "rules" in registered:  # the reference, always measured in the same run, first
        models = ["rules", *[m for m in models if m != "rules"]]
    console = Console(width=max(Console().width, 140))
    console.print(f"models {models}; threads {args.threads or 'default'}; "
                  f"load average {os.getloadavg()}", markup=False)
    splits = make_splits(seed=args.seed, sizes=tuple(args.sizes),
                         shared_dir=settings.shared_data_dir)
    rows = []
    for name in models:
        if args.threads is not None and "torch" in sys.modules:
            import torch

            torch.set_num_threads(args.threads)
        rows.extend(run_model(name, splits, settings, args, console))
    _add_reference(rows)
    report: dict[str, Any] = {
        "protocol": "fit on the train split; valid and TEST scored; test questions come from "
                    "templates AND name places never seen in training; entities count only with "
                    "the exact type and character span; gazetteer 'train' = the training "
                    "questions' places only, 'full' = plus the world gazetteer",
        "command": " ".join(sys.argv),
        "settings": {"seed": args.seed, "sizes": list(args.sizes), "models": models,
                     "threads": args.threads, "budget_minutes": args.budget_minutes,
                     "latency_n": args.latency_n, "gazetteers": args.gazetteers,
                     "saved": args.saved, "tune_thresholds": args.tune_thresholds,
                     "klue": args.klue,
                     "klue_max_iterations": args.klue_max_iterations},
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpu_count": os.cpu_count(),
                    "threads": args.threads or f"library defaults ({os.cpu_count()} cores)",
                    "load_average_at_start": list(os.getloadavg()),
                    "note": "kiwipiepy and crfsuite run single-threaded; the thread cap applies "
                            "to BLAS/OpenMP (intent classifier) and torch"},
        "targets_for_the_encoder_on_test": TARGETS,
        "rows": rows}
    if args.klue:
        report["klue_ner"] = run_klue(settings, args, console)
    report["wall_seconds"] = time.perf_counter() - run_started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    _print(report, console)
    console.print(f"wall {report['wall_seconds']:.0f} s → {args.out}")


def _add_reference(rows: list[dict[str, Any]]) -> None:
    """Each row's test scores minus the rules baseline's with the same gazetteer."""
    rules = {r["gazetteer"]: r["test"] for r in rows if r["model"] == "rules"}
    for row in rows:
        ref = rules.get(row["gazetteer"])
        if ref is not None:
            row["test_minus_rules"] = {k: row["test"][k] - ref[k]
                                       for k in ("intent_accuracy", "intent_macro_f1",
                                                 "entity_f1")}


def _print(report: dict[str, Any], console: Console) -> None:
    from recstack.nlu.schema import ENTITY_TYPES

    table = Table(title="Travel NLU (fit on train; valid, and test = unseen templates and "
                        f"places; threads: {report['machine']['threads']})")
    for col in ("model", "gaz", "split", "intent acc", "intent F1", "ent P", "ent R", "ent F1",
                "fit s", "p50 ms", "p99 ms", "ms/q @64"):
        table.add_column(col, justify="left" if col in ("model", "gaz", "split") else "right")
    for r in report["rows"]:
        for split in ("valid", "test"):
            m = r[split]
            lat = r["latency"] if split == "test" else None
            table.add_row(
                r["model"], r["gazetteer"], split, f"{m['intent_accuracy']:.4f}",
                f"{m['intent_macro_f1']:.4f}", f"{m['entity_precision']:.4f}",
                f"{m['entity_recall']:.4f}", f"{m['entity_f1']:.4f}",
                f"{r['fit_seconds']:.1f}" if split == "test" else "",
                f"{lat['batch1_p50_ms']:.2f}" if lat else "",
                f"{lat['batch1_p99_ms']:.2f}" if lat else "",
                f"{lat['batch64_ms_per_question']:.2f}" if lat else "")
    console.print(table)
    types = [t for t in ENTITY_TYPES if any(t in r["test"]["per_type"] for r in report["rows"])]
    per_type = Table(title="Entity F1 per type (test; support in the header)")
    per_type.add_column("model / gazetteer")
    support = report["rows"][0]["test"]["per_type"] if report["rows"] else {}
    for t in types:
        per_type.add_column(f"{t} ({support.get(t, {}).get('support', 0)})", justify="right")
    for r in report["rows"]:
        per_type.add_row(f"{r['model']} / {r['gazetteer']}",
                         *[f"{r['test']['per_type'].get(t, {}).get('f1', 0.0):.3f}"
                           for t in types])
    console.print(per_type)
    klue = report.get("klue_ner")
    if klue:
        kt = Table(title="KLUE-NER entity F1 (exact type + character span) — NOT the same "
                         "evaluation set")
        for col in ("model", "trained on", "scored on", "entity F1"):
            kt.add_column(col)
        kt.add_row("CRF (this run)", f"{klue['n_train']} dev sentences",
                   f"{klue['n_test']} held-out dev sentences (20%)", f"{klue['entity_f1']:.4f}")
        for name, f1 in klue["published_baselines_full_dev_entity_f1"].items():
            kt.add_row(f"{name} (published)", "KLUE train set", "whole dev set (5,000)",
                       f"{f1:.3f}")
        console.print(kt)
    print()  # plain stdout: the Markdown must not be wrapped to the terminal's width
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    """The short table for the README: test rows, then KLUE-NER."""
    threads = report["machine"]["threads"]
    lines = [f"NLU test set: unseen templates and unseen place names "
             f"({report['rows'][0]['test']['n'] if report['rows'] else 0} questions; "
             f"fit on {report['settings']['sizes'][0]}; threads: {threads})",
             "",
             "| model | gazetteer | intent acc | intent macro-F1 | entity P | entity R | "
             "entity F1 | fit s | p50 / p99 ms (batch 1) | ms/question (batch 64) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        m, lat = r["test"], r["latency"]
        lines.append(
            f"| {r['model']} | {r['gazetteer']} | {m['intent_accuracy']:.1%} | "
            f"{m['intent_macro_f1']:.1%} | {m['entity_precision']:.1%} | "
            f"{m['entity_recall']:.1%} | {m['entity_f1']:.1%} | {r['fit_seconds']:.1f} | "
            f"{lat['batch1_p50_ms']:.2f} / {lat['batch1_p99_ms']:.2f} | "
            f"{lat['batch64_ms_per_question']:.2f} |")
    klue = report.get("klue_ner")
    if klue:
        pub = klue["published_baselines_full_dev_entity_f1"]
        lines += ["", "| KLUE-NER | evaluated on | entity F1 |", "|---|---|---:|",
                  f"| CRF (ours, trained on {klue['n_train']} dev sentences) | "
                  f"{klue['n_test']} held-out dev sentences | {klue['entity_f1']:.1%} |"]
        lines += [f"| {name} (published) | whole dev set | {f1:.1%} |"
                  for name, f1 in pub.items()]
        lines.append("\nKLUE rows are not the same evaluation set: ours is a 20% sample of "
                     "dev (the train file is not public) and a CRF, not a pretrained "
                     "transformer.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
