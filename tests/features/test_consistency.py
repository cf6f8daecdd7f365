"""Offline and online agree: after materialising up to T, every entity's online value is its
point-in-time value at T, however the materialisation was split into increments."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from recstack.features import FeatureStore, SQLiteOnlineStore, SQLiteOnlineStoreConfig
from recstack.settings import Settings

SENSOR_FEATURES = ["sensor_readings:level", "sensor_readings:low", "sensor_readings:mid"]
FEATURES = [*SENSOR_FEATURES, "station_profile:altitude", "station_profile:region"]


def _same(a, b) -> bool:
    return (pd.isna(a) and pd.isna(b)) or a == b


def _check_every_entity(store: FeatureStore, readings: pd.DataFrame, at: pd.Timestamp):
    entities = readings[["station_id", "sensor"]].drop_duplicates().reset_index(drop=True)
    offline = store.get_training_frame(entities.assign(event_timestamp=at), FEATURES)
    online = store.get_online_features(entities.to_dict("records"), FEATURES, at=at).to_frame()
    names = [f.split(":")[1] for f in FEATURES]
    mismatches = [(i, n) for n in names for i in range(len(entities))
                  if not _same(offline[n].iloc[i], online[n].iloc[i])]
    assert not mismatches, mismatches[:5]
    return offline


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(1, 539), max_size=4, unique=True), seed=st.integers(0, 10_000))
def test_online_equals_offline_at_materialisation_time(readings, publish_readings, cuts, seed):
    frame, stations = readings(25, days=540, random_state=seed)
    end = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=540)
    with tempfile.TemporaryDirectory() as tmp:
        store = FeatureStore(Settings(home=Path(tmp)))
        publish_readings(store, frame, stations)
        for day in sorted(cuts):  # incremental: each run continues where the last one ended
            store.materialize(end=pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=day))
        store.materialize(end=end)
        offline = _check_every_entity(store, frame, end)
        store.close()
    assert offline["level"].notna().any()  # the comparison is not all-missing


def test_consistency_holds_on_the_redis_backend_too(settings, online_store, readings,
                                                    publish_readings):
    frame, stations = readings(40, random_state=1)
    store = FeatureStore(settings, online_store=online_store)
    publish_readings(store, frame, stations)
    at = pd.Timestamp("2024-09-01", tz="UTC")
    store.materialize(pd.Timestamp("2023-01-01", tz="UTC"), at)
    _check_every_entity(store, frame, at)


def test_ttl_expires_online_values_as_time_passes(settings, readings, publish_readings):
    frame, stations = readings(20, random_state=2)
    store = FeatureStore(settings, online_store=SQLiteOnlineStore(
        SQLiteOnlineStoreConfig(path=settings.home / "o.db")))
    publish_readings(store, frame, stations)
    store.materialize(end="2025-07-01")
    rows = frame[["station_id", "sensor"]].drop_duplicates().to_dict("records")
    soon = store.get_online_features(rows, ["sensor_readings:high"], at="2025-07-01")
    later = store.get_online_features(rows, ["sensor_readings:high"], at="2027-01-01")
    assert any(r["high"] is not None for r in soon.rows)
    assert all(r["high"] is None for r in later.rows)  # a year's TTL has passed for all
