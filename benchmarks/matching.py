"""Place matching on the eight Geo-ER sets: the thresholds rule against the gradient-boosted
matcher, and blocking recall.

For each set (OSM–Foursquare and OSM–Yelp in Singapore, Edinburgh, Toronto, Pittsburgh), each
matcher in ``recstack.matching.matchers`` is fitted on the set's train pairs, chooses its
thresholds on the set's valid pairs, and is scored once on the TEST pairs (precision, recall,
F1 of the match class). The thresholds rule (name similarity + distance) is the baseline
measured in the same run. Throughput is pairs per second of ``predict_proba`` on the test pairs
(features included) with the thread cap below. Blocking links the distinct left and right
records of each test file (name top-k united with the k geographic nearest from a BallTree)
and reports the share of true matches among the candidates (positives grouped by left record)
and candidates per left record. Matchers are built from their classes directly: nothing is
logged to MLflow.

    PYTHONPATH=src .venv/bin/python benchmarks/matching.py [--threads 1] [--sets osm_fsq/pit]

Writes ``benchmarks/results/matching.json`` and prints a Markdown table for docs/matching.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
SETS = [f"{source}/{city}" for source in ("osm_fsq", "osm_yelp")
        for city in ("sin", "edi", "tor", "pit")]
MATCHERS = ("thresholds", "gbm")
TARGETS = {"mean_f1": 0.93, "above_baseline_on_every_set": True}  # issue 16


def _limit_threads(threads: int | None) -> None:
    """Caps BLAS/OpenMP threads before numpy and scikit-learn load (they read these once)."""
    if threads is None:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(threads)


def run_set(name: str, root: Path, blocking: Any) -> dict[str, Any]:
    from recstack.matching.blocking import blocking_recall
    from recstack.matching.data import read_pairs
    from recstack.matching.matchers import matcher_class
    from recstack.matching.pipeline import scores

    pairs = {part: read_pairs(root / name / f"{part}.txt.gz", require_labels=True)
             for part in ("train", "valid", "test")}
    row: dict[str, Any] = {"set": name, "n": {k: len(v) for k, v in pairs.items()},
                           "test_positives": int(pairs["test"].labels.sum())}
    for model in MATCHERS:
        started = time.perf_counter()
        matcher = matcher_class(model)().fit(pairs["train"], pairs["valid"])
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        proba = matcher.predict_proba(pairs["test"])[:, 1]
        seconds = time.perf_counter() - started
        test = pairs["test"].require_labels("scoring")
        row[model] = {**scores(test, (proba >= 0.5).astype(int)),
                      "valid_f1_at_chosen_threshold": getattr(matcher, "valid_f1_", None),
                      "chosen": matcher.describe(), "fit_seconds": fit_seconds,
                      "pairs_per_second": len(pairs["test"]) / seconds}
    report = blocking_recall(pairs["test"], blocking)
    row["blocking"] = {"recall": report.recall, "pairs_per_record": report.pairs_per_record,
                       "n_left": report.n_left, "n_right": report.n_right,
                       "n_matches": report.n_matches, "seconds": report.seconds}
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for model in MATCHERS:
        summary[model] = {
            "mean_f1": statistics.mean(r[model]["f1"] for r in rows),
            "mean_precision": statistics.mean(r[model]["precision"] for r in rows),
            "mean_recall": statistics.mean(r[model]["recall"] for r in rows),
            "pairs_per_second": sum(r["n"]["test"] for r in rows)
            / sum(r["n"]["test"] / r[model]["pairs_per_second"] for r in rows)}
    summary["blocking"] = {
        "mean_recall": statistics.mean(r["blocking"]["recall"] for r in rows),
        "mean_pairs_per_record": statistics.mean(r["blocking"]["pairs_per_record"]
                                                 for r in rows)}
    gbm_mean = summary["gbm"]["mean_f1"]
    summary["targets"] = {
        "mean_f1": {"target": TARGETS["mean_f1"], "gbm": gbm_mean,
                    "met": gbm_mean >= TARGETS["mean_f1"]},
        "above_baseline_on_every_set": all(r["gbm"]["f1"] > r["thresholds"]["f1"]
                                           for r in rows)}
    return summary


def markdown(rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    lines = ["| set | test pairs | thresholds F1 | gbm F1 | gbm P / R | blocking recall | "
             "pairs / record |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['set']} | {r['n']['test']:,} | {r['thresholds']['f1']:.4f} | "
                     f"{r['gbm']['f1']:.4f} | {r['gbm']['precision']:.3f} / "
                     f"{r['gbm']['recall']:.3f} | {r['blocking']['recall']:.4f} | "
                     f"{r['blocking']['pairs_per_record']:.1f} |")
    lines.append(f"| **mean** | | **{summary['thresholds']['mean_f1']:.4f}** | "
                 f"**{summary['gbm']['mean_f1']:.4f}** | {summary['gbm']['mean_precision']:.3f}"
                 f" / {summary['gbm']['mean_recall']:.3f} | "
                 f"{summary['blocking']['mean_recall']:.4f} | "
                 f"{summary['blocking']['mean_pairs_per_record']:.1f} |")
    lines.append("")
    lines.append(f"Throughput (test pairs, features included): thresholds "
                 f"{summary['thresholds']['pairs_per_second']:,.0f} pairs/s, gbm "
                 f"{summary['gbm']['pairs_per_second']:,.0f} pairs/s.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=SETS, help="source/city, e.g. osm_fsq/pit")
    parser.add_argument("--threads", type=int, default=None, help="BLAS/OpenMP thread cap")
    parser.add_argument("--data", type=Path, default=None,
                        help="the Geo-ER folder; default: <shared data>/place-matching/geo-er")
    parser.add_argument("--name-k", type=int, default=10)
    parser.add_argument("--geo-k", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS / "matching.json")
    args = parser.parse_args(argv)
    _limit_threads(args.threads)

    from recstack.matching.blocking import BlockingConfig
    from recstack.settings import Settings

    root = args.data or Settings().shared_data_dir / "place-matching" / "geo-er"
    if not root.is_dir():
        sys.exit(f"no Geo-ER data at {root}: pass --data or set RECSTACK_DATA__SHARED_DIR")
    blocking = BlockingConfig(name_k=args.name_k, geo_k=args.geo_k)
    load = os.getloadavg()
    started = time.perf_counter()
    rows = []
    for name in args.sets:
        rows.append(run_set(name, root, blocking))
        print(f"{name}: thresholds F1 {rows[-1]['thresholds']['f1']:.4f}, gbm F1 "
              f"{rows[-1]['gbm']['f1']:.4f}, blocking recall "
              f"{rows[-1]['blocking']['recall']:.4f}", flush=True)
    summary = summarise(rows)
    result = {
        "protocol": "per set: fit on train, thresholds chosen on valid, scored once on test "
                    "(F1 of the match class); blocking on the distinct records of each test "
                    "file, recall of its positive pairs grouped by left record",
        "command": "benchmarks/matching.py" + (f" --threads {args.threads}"
                                                if args.threads else ""),
        "settings": {"sets": args.sets, "matchers": list(MATCHERS),
                     "blocking": {"blockers": list(blocking.blockers), "name_k": blocking.name_k,
                                  "name_scorer": blocking.name_scorer, "geo_k": blocking.geo_k}},
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpu_count": os.cpu_count(), "threads": args.threads,
                    "load_average_at_start": load,
                    "note": "rapidfuzz runs single-threaded; the cap applies to scikit-learn's "
                            "OpenMP (gradient boosting, BallTree)"},
        "targets": TARGETS, "summary": summary, "rows": rows,
        "wall_seconds": time.perf_counter() - started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(markdown(rows, summary))
    print(f"→ {args.out} ({result['wall_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
