"""joint-e5 on four CPU runtimes, and the one to serve chosen by a rule (issue 14, "Serving").

For a saved joint-e5 folder (``JointEncoderNLU.save``), each runtime is measured on the test
questions (templates and place names never seen in training):

- ``torch``: PyTorch fp32, the model as trained (``JointEncoderNLU.load``);
- ``torch-int8``: ``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear`` (int8
  weights, activations quantised per batch; the embeddings stay fp32);
- ``onnx``: ONNX Runtime fp32 (``recstack.nlu.export.export_onnx(quantize=False)``);
- ``onnx-int8``: ONNX Runtime, ``quantize_dynamic`` int8 (MatMul and Gather, per channel).

Each runtime runs in a FRESH subprocess (this script with ``--worker``), so its imports count in
its memory: the resident set size (psutil) after loading and parsing one question is what one
service worker holds. The same process then times one question alone (p50/p99 over
``--latency-n`` questions after 10 warm-up calls), all test questions in batches of
``--batch`` (ms per question), and scores those parses (intent accuracy, entity F1: exact type
and span). Every runtime runs on ONE thread (torch intra-op and ONNX Runtime intra-op = 1,
BLAS/OpenMP capped): the service runs requests in threads and workers in processes.

Rule (issue 14): the fastest runtime (single-question p50: the service parses one question
per request) whose test intent accuracy and entity F1 are both no more than 0.5 points below
torch fp32's. The choice and the reason are in the JSON.

    PYTHONPATH=src .venv/bin/python benchmarks/nlu_runtime.py --model /path/to/joint-e5

Writes ``benchmarks/results/nlu_runtime.json`` and prints a Markdown table for docs/nlu.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
RUNTIMES = ("torch", "torch-int8", "onnx", "onnx-int8")
TOLERANCE = 0.005  # 0.5 points of intent accuracy and of entity F1
LATENCY_WARMUP = 10
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "RAYON_NUM_THREADS")


def _limit_threads(threads: int) -> None:
    """Caps BLAS/OpenMP threads before numpy or torch load (they read these once)."""
    for var in THREAD_VARS:
        os.environ[var] = str(threads)


def _folder_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


# -- the worker: one runtime in a fresh process ------------------------------------------------
def _load(runtime: str, model: Path, exports: Path, threads: int) -> tuple[Any, dict[str, Any]]:
    """The runtime's parser and its size on disk (MB)."""
    if runtime.startswith("onnx"):
        from recstack.nlu.onnx_runtime import OnnxJointNLU

        folder = exports / runtime
        return OnnxJointNLU.load(folder, threads=threads), {
            "model_file_mb": _folder_mb(folder / "model.onnx"), "folder_mb": _folder_mb(folder)}
    import torch

    torch.set_num_threads(threads)
    from recstack.nlu.joint import JointEncoderNLU

    nlu = JointEncoderNLU.load(model)
    size = {"model_file_mb": _folder_mb(model / "encoder" / "model.safetensors")
            + _folder_mb(model / "heads.pt"), "folder_mb": _folder_mb(model)}
    if runtime == "torch-int8":
        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():  # torch.ao's move to torchao: still works in 2.13
            warnings.simplefilter("ignore")
            nlu.module_ = quantize_dynamic(nlu.module_, {torch.nn.Linear}, dtype=torch.qint8)
        saved = exports / "torch-int8.pt"
        torch.save(nlu.module_.state_dict(), saved)
        size = {"model_file_mb": _folder_mb(saved),
                "folder_mb": _folder_mb(saved) + _folder_mb(model) - size["model_file_mb"]}
    return nlu, size


def worker(args: argparse.Namespace) -> None:
    import psutil

    started = time.perf_counter()
    nlu, size = _load(args.worker, args.model, args.exports, args.threads)
    texts_file = json.loads(args.texts.read_text(encoding="utf-8"))
    texts = texts_file["texts"]
    nlu.parse(texts[:1])
    rss_mb = psutil.Process().memory_info().rss / 1e6
    load_seconds = time.perf_counter() - started
    for text in texts[:LATENCY_WARMUP]:
        nlu.parse([text])
    single = []
    for text in texts[:args.latency_n]:
        t0 = time.perf_counter()
        nlu.parse([text])
        single.append((time.perf_counter() - t0) * 1000)
    parses = []
    t0 = time.perf_counter()
    for lo in range(0, len(texts), args.batch):
        parses.extend(nlu.parse(texts[lo:lo + args.batch]))
    batched = (time.perf_counter() - t0) * 1000 / len(texts)
    cuts = statistics.quantiles(single, n=100, method="inclusive")
    out = {"runtime": args.worker, "rss_mb_after_load_and_one_parse": rss_mb,
           "imported_torch": "torch" in sys.modules, "load_and_first_parse_s": load_seconds,
           "size": size, "batch1_n": len(single), "batch1_p50_ms": statistics.median(single),
           "batch1_p99_ms": cuts[98], "batch_size": args.batch,
           "batched_ms_per_question": batched, "parses": [p.to_dict() for p in parses]}
    print(json.dumps(out, ensure_ascii=False))


# -- the driver ----------------------------------------------------------------------------
def _run_worker(runtime: str, args: argparse.Namespace, exports: Path, texts: Path
                ) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", runtime, "--model", str(args.model),
               "--exports", str(exports), "--texts", str(texts), "--threads", str(args.threads),
               "--latency-n", str(args.latency_n), "--batch", str(args.batch)]
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(),
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise SystemExit(f"{runtime} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def choose(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest runtime (single-question p50) within ``TOLERANCE`` of torch fp32 on both
    intent accuracy and entity F1."""
    ref = next(r for r in rows if r["runtime"] == "torch")
    for row in rows:
        row["drop_vs_torch"] = {k: ref["test"][k] - row["test"][k]
                                for k in ("intent_accuracy", "entity_f1")}
        row["within_tolerance"] = all(d <= TOLERANCE + 1e-12
                                      for d in row["drop_vs_torch"].values())
    eligible = [r for r in rows if r["within_tolerance"]]
    best = min(eligible, key=lambda r: r["batch1_p50_ms"])
    excluded = {r["runtime"]: r["drop_vs_torch"] for r in rows if not r["within_tolerance"]}
    return {"runtime": best["runtime"],
            "rule": f"fastest single-question p50 among runtimes whose test intent accuracy and "
                    f"entity F1 are at most {TOLERANCE * 100:.1f} points below torch fp32's",
            "why": f"{best['runtime']}: p50 {best['batch1_p50_ms']:.2f} ms vs torch "
                   f"{ref['batch1_p50_ms']:.2f} ms, intent accuracy "
                   f"{best['test']['intent_accuracy']:.4f} (torch "
                   f"{ref['test']['intent_accuracy']:.4f}), entity F1 "
                   f"{best['test']['entity_f1']:.4f} (torch {ref['test']['entity_f1']:.4f}), "
                   f"{best['rss_mb_after_load_and_one_parse']:.0f} MB resident per worker "
                   f"(torch {ref['rss_mb_after_load_and_one_parse']:.0f} MB)",
            "eligible": [r["runtime"] for r in eligible], "excluded_drops": excluded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a saved joint-e5 folder")
    parser.add_argument("--seed", type=int, default=0, help="generation and split seed")
    parser.add_argument("--sizes", type=int, nargs=3, default=(6000, 1000, 1500),
                        metavar=("TRAIN", "VALID", "TEST"))
    parser.add_argument("--threads", type=int, default=1, help="threads of every runtime")
    parser.add_argument("--latency-n", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES)
    parser.add_argument("--shared-data", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "nlu_runtime.json")
    parser.add_argument("--worker", choices=RUNTIMES, help=argparse.SUPPRESS)
    parser.add_argument("--exports", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--texts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    _limit_threads(args.threads)
    if args.worker:
        worker(args)
        return
    if "torch" not in args.runtimes:
        parser.error("torch fp32 is the reference: keep it in --runtimes")
    run_started = time.perf_counter()
    load_start = list(os.getloadavg())
    print(f"runtimes {args.runtimes}; threads {args.threads}; load average {load_start}",
          flush=True)

    from recstack.nlu.data import make_splits
    from recstack.nlu.evaluation import score_parses
    from recstack.nlu.schema import Parse, Span
    from recstack.settings import Settings

    shared = args.shared_data or Settings().shared_data_dir
    test = make_splits(seed=args.seed, sizes=tuple(args.sizes), shared_dir=shared).test
    work = Path(tempfile.mkdtemp(prefix="nlu-runtime-"))
    try:
        texts = work / "texts.json"
        texts.write_text(json.dumps({"texts": [e.text for e in test]}, ensure_ascii=False),
                         encoding="utf-8")
        export_seconds = {}
        onnx = [r for r in args.runtimes if r.startswith("onnx")]
        if onnx:
            import torch

            torch.set_num_threads(args.threads)
            from recstack.nlu.export import export_onnx
            from recstack.nlu.joint import JointEncoderNLU

            model = JointEncoderNLU.load(args.model)
            for runtime in onnx:
                t0 = time.perf_counter()
                export_onnx(model, work / runtime, quantize=runtime == "onnx-int8")
                export_seconds[runtime] = time.perf_counter() - t0
                print(f"exported {runtime} in {export_seconds[runtime]:.0f} s", flush=True)
            del model
        rows = []
        for runtime in args.runtimes:
            row = _run_worker(runtime, args, work, texts)
            parses = [Parse(text=p["text"], intent=p["intent"], intent_score=p["intent_score"],
                            entities=[Span(**e) for e in p["entities"]])
                      for p in row.pop("parses")]
            scores = score_parses(test, parses)
            row["test"] = {"n": len(test), "intent_accuracy": scores["intent"]["accuracy"],
                           "intent_macro_f1": scores["intent"]["macro_f1"],
                           "entity_precision": scores["entities"]["precision"],
                           "entity_recall": scores["entities"]["recall"],
                           "entity_f1": scores["entities"]["f1"]}
            if runtime in export_seconds:
                row["export_seconds"] = export_seconds[runtime]
                row["export"] = json.loads((work / runtime / "onnx.json").read_text())
            rows.append(row)
            print(f"{runtime}: intent {row['test']['intent_accuracy']:.4f} entity F1 "
                  f"{row['test']['entity_f1']:.4f} p50 {row['batch1_p50_ms']:.2f} ms "
                  f"p99 {row['batch1_p99_ms']:.2f} ms {row['batched_ms_per_question']:.2f} "
                  f"ms/q @{args.batch} {row['rss_mb_after_load_and_one_parse']:.0f} MB",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report: dict[str, Any] = {
        "protocol": "one saved joint-e5 model; each runtime in a fresh process: resident memory "
                    "after loading and parsing one question, then single-question latency, "
                    "then every test question in batches (scored: exact type and span); test "
                    "questions come from templates AND name places never seen in training",
        "command": " ".join(sys.argv),
        "model": str(args.model),
        "model_config": json.loads((args.model / "joint.json").read_text())["config"],
        "settings": {"seed": args.seed, "sizes": list(args.sizes), "threads": args.threads,
                     "latency_n": args.latency_n, "latency_warmup": LATENCY_WARMUP,
                     "batch": args.batch, "tolerance_points": TOLERANCE * 100},
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpu_count": os.cpu_count(), "threads": args.threads,
                    "load_average_at_start": load_start,
                    "load_average_at_end": list(os.getloadavg()),
                    "note": "threads = 1 for every runtime (torch intra-op, ONNX Runtime "
                            "intra-op, BLAS/OpenMP): the service parallelises over requests "
                            "and worker processes"},
        "rows": rows,
        "choice": choose(rows)}
    report["wall_seconds"] = time.perf_counter() - run_started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    print()
    print(markdown(report))
    print(f"\nchoice: {report['choice']['runtime']} ({report['choice']['why']})")
    print(f"wall {report['wall_seconds']:.0f} s → {args.out}")


def markdown(report: dict[str, Any]) -> str:
    """The table for docs/nlu.md."""
    batch = report["settings"]["batch"]
    lines = ["| runtime | intent acc | entity F1 | p50 / p99 ms (one question) | "
             f"ms/question (batch {batch}) | model file MB | RSS MB (fresh process) | torch "
             "imported |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in report["rows"]:
        t = r["test"]
        lines.append(
            f"| {r['runtime']} | {t['intent_accuracy']:.1%} | {t['entity_f1']:.1%} | "
            f"{r['batch1_p50_ms']:.2f} / {r['batch1_p99_ms']:.2f} | "
            f"{r['batched_ms_per_question']:.2f} | {r['size']['model_file_mb']:.0f} | "
            f"{r['rss_mb_after_load_and_one_parse']:.0f} | "
            f"{'yes' if r['imported_torch'] else 'no'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
