"""Feature store: recstack vs Feast on the same generated data, in one run.

Both stores get the same Parquet sources (several views of float features over one entity,
several events per key, created timestamps, a TTL) and the same entity frame. Measured:

* training frame: point-in-time join of ``--entity-rows`` rows x all features
  (recstack: DuckDB ASOF join; Feast: its file/Dask offline store);
* online reads after materialising: one entity with every feature per call, p50/p99
  (recstack: SQLite online store; Feast: its SQLite online store), and a 100-entity batch;
* agreement: the share of training-frame cells where both give the same value.

    .venv/bin/python benchmarks/feature_store.py                      # full size
    .venv/bin/python benchmarks/feature_store.py --entity-rows 100000 --feast-entity-rows 100000

Feast may be given fewer entity rows (``--feast-entity-rows``) when it would not finish; the
JSON records both sizes, and the speed-up compares rows per second. Writes
``benchmarks/results/feature_store.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from recstack.features import (
    Definitions,
    Entity,
    Feature,
    FeatureStore,
    FeatureView,
    Source,
)
from recstack.settings import Settings

RESULT = Path(__file__).parent / "results" / "feature_store.json"
T0 = pd.Timestamp("2025-01-01", tz="UTC")
SPAN_S = 180 * 86400
TTL_S = 90 * 86400


def generate(args: argparse.Namespace, out: Path) -> tuple[list[Path], pd.DataFrame]:
    """Per view a Parquet file of events; and the entity frame (user_id, event_timestamp)."""
    rng = np.random.default_rng(args.seed)
    paths = []
    for v in range(args.views):
        n = args.keys * args.events_per_key
        seconds = rng.integers(0, SPAN_S, n)
        frame = pd.DataFrame({
            "user_id": rng.integers(0, args.keys, n).astype(np.int64),
            "event_timestamp": T0 + pd.to_timedelta(seconds, unit="s"),
            "created": T0 + pd.to_timedelta(seconds + rng.integers(0, 3600, n), unit="s"),
        })
        for j in range(args.features_per_view):
            frame[f"f{v}_{j}"] = rng.normal(size=n).round(6)
        paths.append(out / f"view{v}.parquet")
        frame.to_parquet(paths[-1], index=False)
    entity = pd.DataFrame({
        "user_id": rng.integers(0, args.keys, args.entity_rows).astype(np.int64),
        "event_timestamp": T0 + pd.to_timedelta(rng.integers(0, SPAN_S + 30 * 86400,
                                                             args.entity_rows), unit="s")})
    return paths, entity


def feature_names(args: argparse.Namespace) -> list[tuple[str, str]]:
    return [(f"view{v}", f"f{v}_{j}") for v in range(args.views)
            for j in range(args.features_per_view)]


def latencies(fn: Any, calls: list[Any]) -> dict[str, float]:
    for call in calls[:20]:  # warm caches and connections
        fn(call)
    times, cpu = [], []
    for call in calls:
        started, started_cpu = time.perf_counter(), time.thread_time()
        fn(call)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    q, q_cpu = np.percentile(times, [50, 99]), np.percentile(cpu, [50, 99])
    # CPU time of the calling thread: on a shared machine, wall-clock p99 also counts the
    # time the process waited for a core.
    return {"p50_ms": round(float(q[0]), 3), "p99_ms": round(float(q[1]), 3),
            "mean_ms": round(statistics.fmean(times), 3), "calls": len(times),
            "cpu_p50_ms": round(float(q_cpu[0]), 3), "cpu_p99_ms": round(float(q_cpu[1]), 3)}


def run_recstack(args: argparse.Namespace, paths: list[Path], entity: pd.DataFrame,
                 home: Path, console: Console) -> tuple[dict[str, Any], pd.DataFrame]:
    store = FeatureStore(Settings(home=home))
    views = [FeatureView(name=f"view{v}", entities=["user"],
                         source=Source(kind="parquet", path=str(p)),
                         created_timestamp_field="created", ttl_seconds=TTL_S,
                         features=[Feature(name=f"f{v}_{j}")
                                   for j in range(args.features_per_view)])
             for v, p in enumerate(paths)]
    store.apply(Definitions(entities=[Entity(name="user", join_keys=["user_id"])], views=views))
    refs = [f"{v}:{f}" for v, f in feature_names(args)]
    started = time.perf_counter()
    frame = store.get_training_frame(entity, refs)
    frame_s = time.perf_counter() - started
    console.print(f"recstack training frame: {frame_s:.2f} s")
    end = T0 + pd.Timedelta(seconds=SPAN_S)
    started = time.perf_counter()
    store.materialize(end=end)
    materialize_s = time.perf_counter() - started
    rng = np.random.default_rng(1)
    keys = rng.integers(0, args.keys, args.online_reads).tolist()
    single = latencies(lambda k: store.get_online_features([{"user_id": k}], refs, at=end), keys)
    batches = [rng.integers(0, args.keys, 100).tolist() for _ in range(args.online_reads // 10)]
    batch = latencies(lambda b: store.get_online_features([{"user_id": k} for k in b], refs,
                                                          at=end), batches)
    store.close()
    return {"training_frame_s": round(frame_s, 3), "materialize_s": round(materialize_s, 2),
            "online_single": single, "online_batch_100": batch}, frame


def run_feast(args: argparse.Namespace, paths: list[Path], entity: pd.DataFrame, repo: Path,
              console: Console) -> tuple[dict[str, Any], pd.DataFrame]:
    os.environ.setdefault("FEAST_USAGE", "False")  # no telemetry; read by Feast at import
    import feast
    from feast.infra.offline_stores.dask import DaskOfflineStoreConfig
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig
    from feast.repo_config import RepoConfig
    from feast.types import Float64

    config = RepoConfig(project="bench", registry=str(repo / "registry.db"), provider="local",
                        offline_store=DaskOfflineStoreConfig(),
                        online_store=SqliteOnlineStoreConfig(path=str(repo / "online.db")),
                        entity_key_serialization_version=3)
    store = feast.FeatureStore(config=config)
    user = feast.Entity(name="user", join_keys=["user_id"], value_type=feast.ValueType.INT64)
    views = [feast.FeatureView(
        name=f"view{v}", entities=[user], ttl=pd.Timedelta(seconds=TTL_S).to_pytimedelta(),
        schema=[feast.Field(name=f"f{v}_{j}", dtype=Float64)
                for j in range(args.features_per_view)],
        source=feast.FileSource(path=str(p), timestamp_field="event_timestamp",
                                created_timestamp_column="created"))
        for v, p in enumerate(paths)]
    store.apply([user, *views])
    refs = [f"{v}:{f}" for v, f in feature_names(args)]
    started = time.perf_counter()
    frame = store.get_historical_features(entity_df=entity, features=refs).to_df()
    frame_s = time.perf_counter() - started
    console.print(f"Feast training frame: {frame_s:.2f} s")
    end = T0 + pd.Timedelta(seconds=SPAN_S)
    started = time.perf_counter()
    store.materialize(start_date=(T0 - pd.Timedelta(days=1)).to_pydatetime(),
                      end_date=end.to_pydatetime())
    materialize_s = time.perf_counter() - started
    rng = np.random.default_rng(1)
    keys = rng.integers(0, args.keys, args.online_reads).tolist()
    single = latencies(lambda k: store.get_online_features(
        features=refs, entity_rows=[{"user_id": k}]).to_dict(), keys)
    batches = [rng.integers(0, args.keys, 100).tolist() for _ in range(args.online_reads // 10)]
    batch = latencies(lambda b: store.get_online_features(
        features=refs, entity_rows=[{"user_id": k} for k in b]).to_dict(), batches)
    return {"training_frame_s": round(frame_s, 3), "materialize_s": round(materialize_s, 2),
            "online_single": single, "online_batch_100": batch}, frame


def agreement(ours: pd.DataFrame, theirs: pd.DataFrame, columns: list[str]) -> float:
    """Share of cells (both missing, or equal) over the rows both frames have."""
    key = ["user_id", "event_timestamp"]
    ours = ours.assign(event_timestamp=pd.to_datetime(ours["event_timestamp"], utc=True))
    theirs = theirs.assign(event_timestamp=pd.to_datetime(theirs["event_timestamp"], utc=True))
    merged = ours.drop_duplicates(key).merge(theirs.drop_duplicates(key), on=key,
                                             suffixes=("", "_feast"))
    same = [(merged[c].isna() & merged[f"{c}_feast"].isna())
            | np.isclose(merged[c], merged[f"{c}_feast"]) for c in columns]
    return float(np.mean(np.stack(same)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entity-rows", type=int, default=1_000_000)
    parser.add_argument("--feast-entity-rows", type=int, default=None,
                        help="rows for Feast's training frame (default: --entity-rows)")
    parser.add_argument("--keys", type=int, default=50_000)
    parser.add_argument("--views", type=int, default=5)
    parser.add_argument("--features-per-view", type=int, default=10)
    parser.add_argument("--events-per-key", type=int, default=4)
    parser.add_argument("--online-reads", type=int, default=2000)
    parser.add_argument("--skip-feast", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULT,
                        help="where the JSON goes (point trial runs elsewhere)")
    args = parser.parse_args()
    console = Console()
    columns = [f for _, f in feature_names(args)]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths, entity = generate(args, root)
        ours, our_frame = run_recstack(args, paths, entity, root / "recstack", console)
        theirs, agree = None, None
        feast_rows = args.feast_entity_rows or args.entity_rows
        if not args.skip_feast:
            (root / "feast").mkdir()
            theirs, their_frame = run_feast(args, paths, entity.iloc[:feast_rows], root / "feast",
                                            console)
            agree = agreement(our_frame.iloc[:feast_rows], their_frame, columns)
    result: dict[str, Any] = {
        "benchmark": "feature_store", "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        # The machine is shared: a high load average means both stores ran slower and noisier.
        "load_average_1m": {"before": round(load_before[0], 2),
                            "after": round(os.getloadavg()[0], 2)},
        "data": {"entity_rows": args.entity_rows, "feast_entity_rows": feast_rows,
                 "features": len(columns), "views": args.views, "keys": args.keys,
                 "source_rows_per_view": args.keys * args.events_per_key,
                 "ttl_seconds": TTL_S},
        "recstack": ours, "feast": theirs, "cell_agreement": agree,
    }
    if theirs:
        ours_rate = args.entity_rows / ours["training_frame_s"]
        feast_rate = feast_rows / theirs["training_frame_s"]
        result["training_frame_speedup_rows_per_s"] = round(ours_rate / feast_rate, 1)
    speedup = result.get("training_frame_speedup_rows_per_s")
    result["targets"] = {"training_frame_speedup_at_least": 10, "online_p99_ms_below": 2.0,
                         "training_frame_speedup_met": speedup is not None and speedup >= 10,
                         "online_p99_met": ours["online_single"]["p99_ms"] < 2.0}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title=f"feature store, {len(columns)} features")
    for column in ("store", "entity rows", "training frame s", "materialise s",
                   "online p50 ms", "online p99 ms", "batch-100 p99 ms"):
        table.add_column(column)
    for name, rows, res in (("recstack", args.entity_rows, ours), ("feast", feast_rows, theirs)):
        if res:
            table.add_row(name, f"{rows:,}", f"{res['training_frame_s']:.2f}",
                          f"{res['materialize_s']:.1f}", f"{res['online_single']['p50_ms']:.3f}",
                          f"{res['online_single']['p99_ms']:.3f}",
                          f"{res['online_batch_100']['p99_ms']:.2f}")
    console.print(table)
    console.print(f"speed-up (rows/s): {result.get('training_frame_speedup_rows_per_s')}, "
                  f"cell agreement: {agree}\nwrote {args.out}")


if __name__ == "__main__":
    main()
