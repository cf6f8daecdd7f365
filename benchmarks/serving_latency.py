"""Serving latency: p50/p99 for one user, in-process and over HTTP, plus batched throughput.

Trains the travel demo's candidates into a temporary recstack home (synthetic data, so it runs
anywhere), then times ``RecommenderBundle.recommend`` in-process and ``POST /v1/recommendations``
against a real uvicorn server on localhost. Item-kNN, served the same way in the same run, is
the reference.

    .venv/bin/python benchmarks/serving_latency.py [--models itemknn,sasrec] [--requests 500]

Writes ``benchmarks/results/serving_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console

from recstack.registry.models import ModelRegistry
from recstack.sequential.bundle import Query
from recstack.sequential.pipeline import TrainConfig, load_bundle, train
from recstack.settings import Settings

RESULT = Path(__file__).resolve().parent / "results" / "serving_latency.json"
NEURAL_BUDGET = {"epochs": 20, "max_minutes": 2.0}


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "mean_ms": round(float(ms.mean()), 3)}


def in_process(settings: Settings, ref: str, users: list[str], n: int) -> dict:
    bundle, _ = load_bundle(ref, settings)
    bundle.recommend(user_id=users[0], k=10)  # warm-up
    times = []
    for i in range(n):
        started = time.perf_counter()
        bundle.recommend(user_id=users[i % len(users)], k=10, filters=None)
        times.append(time.perf_counter() - started)
    batch = [Query(user_id=u, k=10) for u in users[:256]]
    started = time.perf_counter()
    bundle.recommend_many(batch)
    batch_s = time.perf_counter() - started
    return {**percentiles(times), "batch256_users_per_s": round(len(batch) / batch_s, 1)}


def over_http(home: Path, ref: str, users: list[str], n: int) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RECSTACK_HOME": str(home),
           "RECSTACK_SEQUENTIAL__DEFAULT_MODEL": ref.split("/")[0]}
    server = subprocess.Popen([sys.executable, "-m", "recstack", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(200):
                try:
                    client.get("/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            body = {"user_id": users[0], "k": 10, "model": ref}
            client.post("/v1/recommendations", json=body).raise_for_status()  # warm-up
            times = []
            for i in range(n):
                body["user_id"] = users[i % len(users)]
                started = time.perf_counter()
                client.post("/v1/recommendations", json=body).raise_for_status()
                times.append(time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait(timeout=20)
    return percentiles(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="itemknn,sasrec")
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    console = Console()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home")
        for model in args.models.split(","):
            params = NEURAL_BUDGET if model not in {"itemknn", "popularity"} else {}
            result = train(TrainConfig(model=model, dataset="travel", params=dict(params),
                                       register_as="latency"), settings, progress=False)
            assert result.version is not None
            ModelRegistry(settings).promote("latency", result.version.version, "champion")
            ref = f"latency/{result.version.version}"
            users = list(result.bundle.histories)[:500]
            results[model] = {"in_process": in_process(settings, ref, users, args.requests),
                              "http": over_http(settings.home, ref, users, args.requests)}
            console.print(model, results[model])
    report = {"dataset": "synthetic travel (2,000 users, 600 products)", "k": 10,
              "requests": args.requests, "results": results,
              "reference": "itemknn (same run, same server)"}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2))
    console.print(f"written {RESULT}")


if __name__ == "__main__":
    main()
