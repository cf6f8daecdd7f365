"""Fixtures of the feature-store tests: online stores of every backend, simulated readings.

The readings are the feature store's own small example, so its tests need no system: sensors
(two per station, a composite key) read at irregular times, some rows recorded late and out of
order, some corrected later (same reading time, later ``recorded_at``), plus a station profile.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recstack.features import (
    OnlineStore,
    RedisOnlineStore,
    RedisOnlineStoreConfig,
    SQLiteOnlineStore,
    SQLiteOnlineStoreConfig,
    online_stores,
)
from recstack.features.offline_store import offline_engines
from recstack.settings import Settings

REDIS_URL = os.environ.get("RECSTACK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ORIGIN = "2024-01-01"

READINGS_YAML = """\
entities:
  - name: station
    join_keys: [station_id]
  - name: sensor
    join_keys: [station_id, sensor]
    description: one of a station's two sensors ("N" or "S")
views:
  - name: sensor_readings
    entities: [sensor]
    source: {kind: frame, name: sensor_readings}
    timestamp_field: read_at
    created_timestamp_field: recorded_at   # a corrected row recorded later wins
    ttl_seconds: 31536000                  # a reading older than a year is not used
    transformation_sql: >
      SELECT *, (low + high) / 2 AS mid FROM source
    features:
      - {name: level, dtype: float64}
      - {name: low, dtype: float64}
      - {name: high, dtype: float64}
      - {name: mid, dtype: float64}
  - name: station_profile
    entities: [station]
    source: {kind: frame, name: stations}
    timestamp_field: updated_at
    features:
      - {name: altitude, dtype: int64}
      - {name: region, dtype: string}
"""


def reading_frames(n_stations: int = 20, *, days: int = 540, correction_rate: float = 0.05,
                   random_state: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(readings, stations)`` for ``READINGS_YAML``, starting at ``ORIGIN``.

    readings: ``station_id``, ``sensor``, ``read_at``, ``recorded_at`` (UTC), ``level``,
    ``low``, ``high``; one row per sensor and visit, plus corrected copies, in arrival order.
    stations: ``station_id``, ``updated_at``, ``altitude``, ``region``.
    """
    rng = np.random.default_rng(random_state)
    origin = pd.Timestamp(ORIGIN, tz="UTC")
    ids = np.array([f"S{i:05d}" for i in range(n_stations)])
    visits = rng.integers(1, 5, n_stations)
    station = np.repeat(np.arange(n_stations), visits * 2)
    day = np.repeat(rng.uniform(0, days, visits.sum()), 2)
    n = len(station)
    base = rng.normal(20.0, 5.0, n_stations)[station]
    read_at = origin + pd.to_timedelta(day * 86400, unit="s").round("s")
    # Most rows arrive within hours; some a week late (batch uploads).
    delay_h = np.where(rng.random(n) < 0.1, rng.uniform(24, 24 * 7, n), rng.uniform(0, 4, n))
    frame = pd.DataFrame({
        "station_id": ids[station], "sensor": np.tile(["N", "S"], visits.sum()),
        "read_at": read_at,
        "recorded_at": read_at + pd.to_timedelta(delay_h * 3600, unit="s").round("s"),
        "level": np.round(base + rng.normal(0, 1, n), 2),
        "low": np.round(base - np.abs(rng.normal(1, .5, n)), 2),
        "high": np.round(base + np.abs(rng.normal(1, .5, n)), 2),
    })
    fixes = frame.sample(frac=correction_rate, random_state=random_state).copy()
    fixes["recorded_at"] += pd.Timedelta(days=2)
    fixes["level"] = np.round(fixes["level"] + rng.normal(0, .5, len(fixes)), 2)
    readings = (pd.concat([frame, fixes]).sample(frac=1.0, random_state=random_state)
                .reset_index(drop=True))  # arrival order is not time order
    stations = pd.DataFrame({
        "station_id": ids, "updated_at": origin - pd.Timedelta(days=30),
        "altitude": rng.integers(0, 3000, n_stations),
        "region": rng.choice(["north", "south"], n_stations)})
    return readings, stations


@pytest.fixture(scope="session")
def readings() -> Callable[..., tuple[pd.DataFrame, pd.DataFrame]]:
    """:func:`reading_frames` (session-scoped, so hypothesis tests may use it)."""
    return reading_frames


@pytest.fixture(scope="session")
def readings_definitions(tmp_path_factory) -> Path:
    """``READINGS_YAML`` as a definitions file."""
    path = tmp_path_factory.mktemp("definitions") / "readings.yaml"
    path.write_text(READINGS_YAML)
    return path


@pytest.fixture(scope="session")
def publish_readings(readings_definitions):
    """``publish(store, readings, stations)``: write both sources and apply the definitions."""
    def publish(store, readings: pd.DataFrame, stations: pd.DataFrame) -> None:
        store.write_source("sensor_readings", readings)
        store.write_source("stations", stations)
        store.apply(readings_definitions)
    return publish


def _sqlite_store(tmp_path: Path) -> Iterator[OnlineStore]:
    store = SQLiteOnlineStore(SQLiteOnlineStoreConfig(path=tmp_path / "online.db"))
    yield store
    store.close()


def _redis_store(tmp_path: Path) -> Iterator[OnlineStore]:
    """Keys get a fresh prefix so runs never see each other; skips when no server answers."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no redis-server answers at {REDIS_URL} ({exc}); start one and set "
                    "RECSTACK_TEST_REDIS_URL, e.g. redis-server --port 6390 --save '' "
                    "--daemonize yes; RECSTACK_TEST_REDIS_URL=redis://127.0.0.1:6390/15")
    prefix = f"recstack-test:{uuid.uuid4().hex}"
    store = RedisOnlineStore(RedisOnlineStoreConfig(url=REDIS_URL, key_prefix=prefix))
    yield store
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    store.close()


# One factory per registered backend; test_online checks that none is missing, so a backend
# added to the plugin table cannot skip the contract suite.
ONLINE_STORE_FACTORIES: dict[str, Callable[[Path], Iterator[OnlineStore]]] = {
    "sqlite": _sqlite_store,
    "redis": _redis_store,
}


@pytest.fixture
def online_store_factories() -> dict[str, Callable[[Path], Iterator[OnlineStore]]]:
    return ONLINE_STORE_FACTORIES


@pytest.fixture(params=online_stores())
def online_store(request, tmp_path):
    """Each registered backend in turn; a backend without a factory fails here."""
    factory = ONLINE_STORE_FACTORIES.get(request.param)
    if factory is None:
        pytest.fail(f"online store {request.param!r} is registered but has no factory in "
                    "tests/features/conftest.py: add one so it runs the contract suite")
    yield from factory(tmp_path)


def _duckdb_engine() -> None:
    """DuckDB is a core dependency: always there."""


def _spark_engine() -> None:
    """Skips, saying how to get it, without pyspark or Java."""
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed: pip install -e '.[spark]'")
    home = os.environ.get("JAVA_HOME")
    if not (os.path.isfile(os.path.join(home, "bin", "java")) if home else shutil.which("java")):
        pytest.skip("no Java for Spark: apt-get install openjdk-17-jre-headless (or set "
                    "JAVA_HOME)")


# One readiness check per offline engine (test_offline_contract checks that none is missing),
# and the marks of its contract run: Spark starts a JVM, so its run is slow.
OFFLINE_ENGINE_FACTORIES: dict[str, Callable[[], None]] = {
    "duckdb": _duckdb_engine,
    "spark": _spark_engine,
}
OFFLINE_ENGINE_MARKS = {"spark": [pytest.mark.slow]}


@pytest.fixture
def offline_engine_factories() -> dict[str, Callable[[], None]]:
    return OFFLINE_ENGINE_FACTORIES


@pytest.fixture(params=[pytest.param(name, marks=OFFLINE_ENGINE_MARKS.get(name, []))
                        for name in offline_engines()])
def engine_settings(request, tmp_path) -> Settings:
    """Settings of an empty home that choose each offline engine in turn."""
    ready = OFFLINE_ENGINE_FACTORIES.get(request.param)
    if ready is None:
        pytest.fail(f"offline engine {request.param!r} has no entry in "
                    "OFFLINE_ENGINE_FACTORIES (tests/features/conftest.py): add one so it runs "
                    "the contract suite")
    ready()
    return Settings(home=tmp_path / "home", features={"offline_engine": request.param})
