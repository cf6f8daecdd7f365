"""Blockers side by side: candidate recall and pairs per record of each blocker and their unions,
on the Korean ↔ English set and on Geo-ER test files.

Each labelled test file is turned into a linking problem (its distinct left and right records,
its matches known: :func:`recstack.matching.blocking.tables_from_pairs`); every blocker
configuration proposes candidates per left record; recall is the share of true matches among
them, pairs per record the candidates each left record costs. Blockers: ``name`` (rapidfuzz
token-sort top-k), ``geo`` (haversine BallTree k nearest), ``roman`` (romanised-name top-k),
``e5`` (multilingual-e5 name embeddings, exact cosine top-k; the first configuration that uses
it pays for embedding every distinct name, later ones reuse the process's cache).

    PYTHONPATH=src .venv/bin/python benchmarks/matching_blocking.py --threads 1 \\
        [--geo-sets osm_fsq/pit osm_yelp/pit] [--k 10]

Writes ``benchmarks/results/matching_blocking.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
CONFIGS = (("name",), ("geo",), ("roman",), ("e5",), ("name", "geo"), ("name", "geo", "roman"),
           ("name", "geo", "e5"), ("name", "geo", "roman", "e5"))


def measure(pairs: Any, k: int, configs: tuple[tuple[str, ...], ...]) -> list[dict[str, Any]]:
    from recstack.matching.blocking import BlockingConfig, blocking_recall

    out = []
    for blockers in configs:
        started = time.perf_counter()
        report = blocking_recall(pairs, BlockingConfig(blockers=blockers, name_k=k, geo_k=k))
        out.append({"blockers": "+".join(blockers), "recall": report.recall,
                    "pairs_per_record": report.pairs_per_record, "n_left": report.n_left,
                    "n_right": report.n_right, "n_matches": report.n_matches,
                    "seconds": time.perf_counter() - started})
        print(f"  {out[-1]['blockers']}: recall {report.recall:.4f}, "
              f"{report.pairs_per_record:.1f} pairs/record, {out[-1]['seconds']:.1f} s",
              flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads")
    parser.add_argument("--geo-sets", nargs="+", default=["osm_fsq/pit", "osm_yelp/pit"])
    parser.add_argument("--k", type=int, default=10, help="top-k of every blocker")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Korean ↔ English set")
    parser.add_argument("--out", type=Path, default=RESULTS / "matching_blocking.json")
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import torch

    torch.set_num_threads(args.threads)
    from recstack.matching.data import read_pairs
    from recstack.matching.korean_pairs import GAZETTEER, build_korean_english_pairs
    from recstack.settings import Settings

    shared = Settings().shared_data_dir
    load = os.getloadavg()
    started = time.perf_counter()
    sets: dict[str, Any] = {}
    print("ko-en test", flush=True)
    ko_en = build_korean_english_pairs(shared / GAZETTEER, seed=args.seed)["test"]
    sets["ko-en"] = measure(ko_en, args.k, CONFIGS)
    for name in args.geo_sets:
        print(name, flush=True)
        pairs = read_pairs(shared / "place-matching" / "geo-er" / name / "test.txt.gz",
                           require_labels=True)
        sets[name] = measure(pairs, args.k, CONFIGS)
    result = {"command": "benchmarks/matching_blocking.py " + " ".join(argv or []),
              "k": args.k, "seed": args.seed,
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "threads": args.threads, "load_average_at_start": load},
              "sets": sets, "wall_seconds": time.perf_counter() - started}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    names = list(sets)
    print("| blockers | " + " | ".join(f"{n} recall | {n} pairs/record" for n in names) + " |")
    print("|---|" + "---:|---:|" * len(names))
    for i, blockers in enumerate(CONFIGS):
        cells = " | ".join(f"{sets[n][i]['recall']:.4f} | {sets[n][i]['pairs_per_record']:.1f}"
                           for n in names)
        print(f"| {'+'.join(blockers)} | {cells} |")
    print(f"→ {args.out} ({result['wall_seconds']:.0f} s, load at start {load[0]:.1f})")


if __name__ == "__main__":
    main()
