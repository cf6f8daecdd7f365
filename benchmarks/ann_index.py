"""Which nearest-neighbour index serves "viewed together": build time, latency, recall@10.

Measured on the real served vectors (the query and candidate vectors whose inner product is the
model's score): Meta-Prod2Vec on the long-tail travel shop and Prod2Vec (gensim) on ML-1M-T2,
plus a scale-up to ``--scale`` items (each real candidate copied with small noise) to show where
approximate search starts to pay. The reference in the same run is exact NumPy search; recall@10
is measured against it. hnswlib is not installed in this environment, so it is not measured.

    .venv/bin/python benchmarks/ann_index.py [--scale 100000] [--queries 2000]

Writes ``benchmarks/results/ann_index.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from recstack.data.sasrec import load_ml1m_t2
from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.embeddings import (
    MetaProd2Vec,
    Prod2Vec,
    index_class,
    next_view_split,
    sessions_dataset,
)

RESULT = Path(__file__).parent / "results" / "ann_index.json"
BACKENDS = ["exact", "faiss-hnsw", "usearch"]
MIN_RECALL = 0.95  # an index that loses more than 1 in 20 true neighbours is not a candidate


def real_vectors(name: str, shared: Path, epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """(queries, candidates) of a model trained here, padding row dropped."""
    if name == "travel":
        data = generate_travel(TravelConfig(n_users=3000, n_products=3000, popularity_skew=1.2))
        split = next_view_split(sessions_dataset(data.events, data.products, name="travel"))
        model: Any = MetaProd2Vec(epochs=epochs, threads=1).fit(
            split.train, split.n_items, split.dataset.item_metadata)
    else:
        root = shared / "ml-1m"
        split = next_view_split(load_ml1m_t2(root / "sasrec", movies_path=root / "movies.dat"))
        model = Prod2Vec(epochs=epochs).fit(split.train, split.n_items)
    return model.query_vectors_[1:], model.candidate_vectors_[1:]


def scaled(candidates: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` candidates: the real ones, then noisy copies (noise 10% of the spread)."""
    picks = rng.integers(0, len(candidates), size - len(candidates))
    noise = 0.1 * candidates.std(axis=0) * rng.normal(size=(len(picks), candidates.shape[1]))
    return np.vstack([candidates, candidates[picks] + noise]).astype(np.float32)


def measure(backend: str, candidates: np.ndarray, queries: np.ndarray,
            exact_ids: np.ndarray | None, k: int = 10) -> dict[str, Any]:
    started = time.perf_counter()
    index = index_class(backend)().build(candidates)
    build_s = time.perf_counter() - started
    latencies, found = [], []
    for query in queries:  # one request at a time, as the service asks
        t0 = time.perf_counter()
        ids, _ = index.search(query[None, :], k)
        latencies.append(time.perf_counter() - t0)
        found.append(ids[0])
    ids = np.array(found)
    recall = 1.0 if exact_ids is None else float(np.mean(
        [len(set(a) & set(b)) / k for a, b in zip(ids, exact_ids, strict=True)]))
    lat_ms = np.array(latencies) * 1e3
    return {"backend": backend, "n_items": len(candidates), "build_s": round(build_s, 4),
            "p50_ms": round(float(np.percentile(lat_ms, 50)), 4),
            "p99_ms": round(float(np.percentile(lat_ms, 99)), 4),
            "qps": round(len(queries) / (lat_ms.sum() / 1e3), 1), "recall_at_10": recall,
            "_ids": ids}


def run_case(label: str, candidates: np.ndarray, queries: np.ndarray) -> list[dict[str, Any]]:
    rows = [measure("exact", candidates, queries, None)]
    for backend in BACKENDS[1:]:
        rows.append(measure(backend, candidates, queries, rows[0]["_ids"]))
    for row in rows:
        row.pop("_ids")
        row["case"] = label
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--datasets", nargs="+", default=["travel", "ml-1m-t2"])
    parser.add_argument("--shared-data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    torch.set_num_threads(1)
    console = Console()
    rng = np.random.default_rng(0)
    rows = []
    for name in args.datasets:
        console.print(f"training {name} vectors")
        queries, candidates = real_vectors(name, args.shared_data, args.epochs)
        picks = rng.integers(0, len(queries), args.queries)
        rows += run_case(f"{name} ({len(candidates)} items)", candidates, queries[picks])
        if args.scale > len(candidates):
            rows += run_case(f"{name} scaled to {args.scale:,}",
                             scaled(candidates, args.scale, rng), queries[picks])
    eligible = [r for r in rows if r["backend"] != "exact" and r["recall_at_10"] >= MIN_RECALL]
    worst_p99: dict[str, float] = {}
    for r in eligible:
        worst_p99[r["backend"]] = max(worst_p99.get(r["backend"], 0.0), r["p99_ms"])
    complete = [b for b in BACKENDS[1:]
                if sum(r["backend"] == b for r in eligible) == len(rows) // len(BACKENDS)]
    choice = min(complete, key=lambda b: worst_p99[b]) if complete else "exact"
    report = {"rows": rows, "choice": choice,
              "rule": f"among approximate backends with recall@10 >= {MIN_RECALL} in every "
                      "case, the lowest worst-case p99 latency; exact NumPy is the reference",
              "not_measured": {"hnswlib": "not installed in this environment"},
              "queries": args.queries, "threads": 1,
              "machine": f"{platform.machine()} {platform.processor() or ''}".strip()}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2))
    table = Table(title="nearest-neighbour backends, one query at a time, k=10")
    for col in ("case", "backend", "build s", "p50 ms", "p99 ms", "QPS", "recall@10"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["case"], r["backend"], f"{r['build_s']:.3f}", f"{r['p50_ms']:.3f}",
                      f"{r['p99_ms']:.3f}", f"{r['qps']:,.0f}", f"{r['recall_at_10']:.3f}")
    console.print(table)
    console.print(f"choice: {choice} ({report['rule']}) → {RESULT}")


if __name__ == "__main__":
    main()
