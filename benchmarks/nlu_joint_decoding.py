"""joint-e5 decoding steps, one at a time, on saved models: what each gives on validation.

The network runs once per saved model over the validation and test questions (the splits of
``benchmarks/nlu.py``); each row then decodes the same logits with other ``JointCodec``
options (``recstack.nlu.decoding``): the previous argmax decoding, constrained BIO (Viterbi),
countries and dates kept only over a rules match, and per-type span thresholds chosen on the
VALIDATION questions. Test is shown beside; it chooses nothing.

    PYTHONPATH=src .venv/bin/python benchmarks/nlu_joint_decoding.py --threads 1 \\
        --saved cpu=/tmp/jp3/model-b gpu=/tmp/jp4/model-gpu-b

Writes ``benchmarks/results/nlu_joint_decoding.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"

# (name, codec options, thresholds chosen on validation?) in the order they were added.
STEPS: list[tuple[str, dict[str, Any], bool]] = [
    ("argmax (before)", {"decoding": "argmax", "hint_required": [], "span_thresholds": {}},
     False),
    ("+ Viterbi (BIO constraints)", {"decoding": "viterbi", "hint_required": [],
                                     "span_thresholds": {}}, False),
    ("+ COUNTRY, DATE need a rules match", {"decoding": "viterbi",
                                            "hint_required": ["COUNTRY", "DATE"],
                                            "span_thresholds": {}}, False),
    ("+ span thresholds (chosen on valid)", {"decoding": "viterbi",
                                             "hint_required": ["COUNTRY", "DATE"]}, True),
    # Alternatives, for comparison:
    ("argmax + span thresholds", {"decoding": "argmax", "hint_required": []}, True),
    ("Viterbi + span thresholds, no rules match", {"decoding": "viterbi",
                                                   "hint_required": []}, True),
    ("Viterbi + DURATION, PEOPLE, BUDGET, COMPANION need a rules match too",
     {"decoding": "viterbi", "span_thresholds": {},
      "hint_required": ["COUNTRY", "DATE", "DURATION", "PEOPLE", "BUDGET", "COMPANION"]},
     False),
]


def _logits(model: Any, texts: list[str]) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
    import torch

    from recstack.nlu.joint import _tensors
    from recstack.nlu.tagging import collate

    items = model.codec_.encode(texts)
    intents, tokens = [], []
    with torch.inference_mode():
        for lo in range(0, len(items), 64):
            chunk = items[lo:lo + 64]
            out = model.module_(**_tensors(collate(chunk)))
            a, b = out["intent_logits"].float().numpy(), out["token_logits"].float().numpy()
            for j, item in enumerate(chunk):
                intents.append(a[j:j + 1])
                tokens.append(b[j:j + 1, :len(item["input_ids"])])
    return items, intents, tokens


def _scores(examples: list[Any], parses: list[Any]) -> dict[str, Any]:
    from recstack.nlu.evaluation import score_parses

    s = score_parses(examples, parses)
    e = s["entities"]
    return {"intent_accuracy": s["intent"]["accuracy"], "entity_precision": e["precision"],
            "entity_recall": e["recall"], "entity_f1": e["f1"], "entity_fp": e["fp"],
            "entity_fn": e["fn"],
            "f1_per_type": {t: round(v["f1"], 4) for t, v in e["per_type"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saved", nargs="+", required=True, metavar="NAME=PATH")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", type=int, nargs=3, default=(6000, 1000, 1500))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "nlu_joint_decoding.json")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    from recstack.nlu.data import make_splits
    from recstack.nlu.decoding import choose_span_thresholds
    from recstack.nlu.joint import JointEncoderNLU
    from recstack.nlu.tagging import JointCodec
    from recstack.settings import Settings

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    splits = make_splits(seed=args.seed, sizes=tuple(args.sizes),
                         shared_dir=Settings().shared_data_dir)
    data = {"valid": splits.valid, "test": splits.test}
    report: dict[str, Any] = {"command": " ".join(sys.argv), "models": {}}
    for name, path in (kv.split("=", 1) for kv in args.saved):
        model = JointEncoderNLU.load(path)
        config = dataclasses.asdict(model.config)
        cached = {split: _logits(model, [e.text for e in examples])
                  for split, examples in data.items()}

        def parses(codec: JointCodec, split: str, cached: dict[str, Any] = cached
                   ) -> list[Any]:
            items, intents, tokens = cached[split]
            texts = [e.text for e in data[split]]
            return [p for k in range(len(texts)) for p in codec.parses(
                texts[k:k + 1], items[k:k + 1], intents[k], tokens[k])]

        rows = []
        for step, options, tune in STEPS:
            codec = JointCodec.from_config(None, model.codec_.lists, {**config, **options,
                                           **({"span_thresholds": {}} if tune else {})})
            if tune:  # chosen on validation parses decoded without thresholds
                codec.span_thresholds = choose_span_thresholds(data["valid"],
                                                               parses(codec, "valid"))
            rows.append({"step": step, "options": {**options,
                                                   "span_thresholds": codec.span_thresholds},
                         **{split: _scores(data[split], parses(codec, split))
                            for split in data}})
        report["models"][name] = {"saved": path, "rows": rows}
    report["wall_seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, entry in report["models"].items():
        print(f"\n{name} ({entry['saved']})\n")
        print("| decoding | valid entity P | valid entity R | valid entity F1 | test entity P | "
              "test entity R | test entity F1 |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in entry["rows"]:
            v, t = r["valid"], r["test"]
            print(f"| {r['step']} | {v['entity_precision']:.1%} | {v['entity_recall']:.1%} | "
                  f"{v['entity_f1']:.1%} | {t['entity_precision']:.1%} | "
                  f"{t['entity_recall']:.1%} | {t['entity_f1']:.1%} |")
    print(f"\nwall {report['wall_seconds']:.0f} s → {args.out}")


if __name__ == "__main__":
    main()
