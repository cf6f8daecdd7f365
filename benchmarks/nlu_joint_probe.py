"""Probe of the fine-tuned joint encoder (``joint-e5``): train on the generated splits under a
wall-clock budget, score validation and test (unseen templates and place names), time parsing.

Not a timed test; the full NLU comparison is ``benchmarks/nlu.py``. Example (2 shared cores)::

    PYTHONPATH=src python benchmarks/nlu_joint_probe.py --gazetteer full --threads 1 \
        --max-minutes 14 --epochs 3 --output /tmp/joint-full.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from recstack.nlu.data import make_splits
from recstack.nlu.evaluation import evaluate
from recstack.nlu.joint import JointEncoderNLU
from recstack.nlu.pipeline import NLUTrainConfig, gazetteer_for, swap_names_for
from recstack.settings import get_settings


def _latency_ms(model: JointEncoderNLU, texts: list[str], batch: int, n: int) -> float:
    """Mean milliseconds per question, parsing ``n`` questions in batches of ``batch``."""
    texts = (texts * (n // len(texts) + 1))[:n]
    model.parse(texts[:batch])  # warm-up
    started = time.perf_counter()
    for i in range(0, n, batch):
        model.parse(texts[i:i + batch])
    return (time.perf_counter() - started) * 1000 / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gazetteer", default="full", choices=["full", "train"])
    ap.add_argument("--sizes", default="6000,1000,1500")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-minutes", type=float, default=14.0)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--set", nargs="*", default=[], help="extra JointConfig fields key=json")
    ap.add_argument("--encoder", default=None, help="converted e5 folder or recstack home")
    ap.add_argument("--save", default=None, help="save the trained model here")
    ap.add_argument("--output", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = get_settings()
    sizes = tuple(int(x) for x in args.sizes.split(","))
    splits = make_splits(seed=0, sizes=sizes, shared_dir=settings.shared_data_dir)  # type: ignore[arg-type]
    gazetteer = gazetteer_for(NLUTrainConfig(gazetteer=args.gazetteer), splits, settings)
    extra = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    model = JointEncoderNLU(gazetteer=gazetteer, swap_names=swap_names_for(gazetteer, splits),
                            encoder=args.encoder, threads=args.threads,
                            max_minutes=args.max_minutes, epochs=args.epochs, **extra)
    started = time.perf_counter()
    model.fit(splits.train, valid=splits.valid)
    fit_seconds = time.perf_counter() - started
    result: dict = {"gazetteer": args.gazetteer, "sizes": sizes, "threads": args.threads,
                    "config": {k: v for k, v in vars(model.config).items()},
                    "fit_seconds": round(fit_seconds, 1),
                    "epochs": [{"epoch": e.epoch, "loss": round(e.loss, 4),
                                "seconds": round(e.seconds, 1), "valid": e.valid}
                               for e in model.history_.epochs],
                    "best_epoch": model.history_.best_epoch,
                    "stop_reason": model.history_.stop_reason}
    for part, examples in (("valid", splits.valid), ("test", splits.test)):
        scores = evaluate(model, examples)
        result[part] = {"intent_accuracy": scores["intent"]["accuracy"],
                        "intent_macro_f1": scores["intent"]["macro_f1"],
                        "entity_precision": scores["entities"]["precision"],
                        "entity_recall": scores["entities"]["recall"],
                        "entity_f1": scores["entities"]["f1"],
                        "entity_f1_per_type": {t: round(v["f1"], 4) for t, v in
                                               scores["entities"]["per_type"].items()}}
    texts = [e.text for e in splits.test]
    result["latency_ms_batch1"] = round(_latency_ms(model, texts, 1, 100), 2)
    result["latency_ms_batch32"] = round(_latency_ms(model, texts, 32, 320), 2)
    if args.save:
        model.save(args.save)
    out = json.dumps(result, ensure_ascii=False, indent=1, default=str)
    if args.output:
        Path(args.output).write_text(out, encoding="utf-8")
    print(out)


if __name__ == "__main__":
    main()
