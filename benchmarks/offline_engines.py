"""Offline engines side by side: the same training frame and materialisation on DuckDB and Spark.

The data are ``feature_store.py``'s (several views of float features over one entity, several
events per key, created timestamps, a TTL; the entity frame of ``--entity-rows`` rows). Each
engine builds the point-in-time training frame of every feature and materialises every view
into its own SQLite online store; the two frames must agree cell for cell. Spark runs in local
mode on this machine (``--master``); its JVM start and a first small join (JIT, class loading)
are timed apart from the measured calls.

    .venv/bin/python benchmarks/offline_engines.py                       # 1M x 50 features
    .venv/bin/python benchmarks/offline_engines.py --entity-rows 100000 --keys 10000

Needs the ``spark`` extra and Java 17+. Writes ``benchmarks/results/offline_engines.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from feature_store import SPAN_S, T0, TTL_S, feature_names, generate
from recstack.features import Definitions, Entity, Feature, FeatureStore, FeatureView, Source
from recstack.settings import Settings

RESULT = Path(__file__).parent / "results" / "offline_engines.json"


def run(engine: str, args: argparse.Namespace, paths: list[Path], entity: pd.DataFrame,
        home: Path, console: Console) -> tuple[dict[str, Any], pd.DataFrame]:
    store = FeatureStore(Settings(home=home, features={"offline_engine": engine}))
    views = [FeatureView(name=f"view{v}", entities=["user"],
                         source=Source(kind="parquet", path=str(p)),
                         created_timestamp_field="created", ttl_seconds=TTL_S,
                         features=[Feature(name=f"f{v}_{j}")
                                   for j in range(args.features_per_view)])
             for v, p in enumerate(paths)]
    started = time.perf_counter()
    store.apply(Definitions(entities=[Entity(name="user", join_keys=["user_id"])], views=views))
    apply_s = time.perf_counter() - started
    refs = [f"{v}:{f}" for v, f in feature_names(args)]
    started = time.perf_counter()
    store.get_training_frame(entity.head(1000), refs)  # warm-up: JIT, class loading, caches
    warm_s = time.perf_counter() - started
    started = time.perf_counter()
    frame = store.get_training_frame(entity, refs)
    frame_s = time.perf_counter() - started
    started = time.perf_counter()
    written = store.materialize(end=T0 + pd.Timedelta(seconds=SPAN_S))
    materialize_s = time.perf_counter() - started
    store.close()
    console.print(f"{engine}: apply {apply_s:.1f} s, warm-up join {warm_s:.1f} s, training "
                  f"frame {frame_s:.2f} s, materialise {materialize_s:.1f} s")
    return {"apply_s": round(apply_s, 2), "warm_up_join_s": round(warm_s, 2),
            "training_frame_s": round(frame_s, 2), "materialize_s": round(materialize_s, 2),
            "materialized_records": sum(written.values())}, frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entity-rows", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=50_000)
    parser.add_argument("--views", type=int, default=5)
    parser.add_argument("--features-per-view", type=int, default=10)
    parser.add_argument("--events-per-key", type=int, default=4)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    console = Console()
    load_before = os.getloadavg()[0]
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    # The program's own session (here: more driver memory); the store uses the active one.
    (SparkSession.builder.master(args.master).config("spark.driver.memory", args.driver_memory)
     .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
     .config("spark.sql.shuffle.partitions", "4").getOrCreate().sparkContext
     .setLogLevel("ERROR"))
    jvm_s = time.perf_counter() - started
    console.print(f"Spark session started in {jvm_s:.1f} s")
    results: dict[str, Any] = {}
    frames = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths, entity = generate(args, Path(tmp))
        for engine in ("duckdb", "spark"):
            results[engine], frames[engine] = run(engine, args, paths, entity,
                                                  Path(tmp) / engine, console)
    columns = [f for _, f in feature_names(args)]
    a, b = frames["duckdb"][columns].to_numpy(), frames["spark"][columns].to_numpy()
    agree = float(np.mean((a == b) | (np.isnan(a) & np.isnan(b))))
    ratio = results["spark"]["training_frame_s"] / results["duckdb"]["training_frame_s"]
    console.print(f"cells that agree: {agree:.2%}; Spark / DuckDB training frame: {ratio:.1f}x")
    report = {"entity_rows": args.entity_rows, "features": len(columns), "views": args.views,
              "keys": args.keys, "events_per_key": args.events_per_key, "master": args.master,
              "spark_session_start_s": round(jvm_s, 2), "agreement": agree, **results,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_before": round(load_before, 2),
                          "load_after": round(os.getloadavg()[0], 2)}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
