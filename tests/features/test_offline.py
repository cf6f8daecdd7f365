"""Point-in-time training frames: checked against a naive reference on random event logs."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from recstack.errors import ConfigError, DataError, NotFoundError
from recstack.features import Definitions, Entity, Feature, FeatureStore, FeatureView, Source
from recstack.settings import Settings

T0 = pd.Timestamp("2025-03-01", tz="UTC")
KEYS = ["a", "b", "c"]

# (key, event second, created second or None). Values are a function of the triple, so exact
# duplicates are identical rows and rows that differ in value differ in created time.
events = st.lists(st.tuples(st.sampled_from(KEYS), st.integers(0, 40),
                            st.none() | st.integers(0, 60)), max_size=40)
entity_rows = st.lists(st.tuples(st.sampled_from([*KEYS, "zz"]), st.integers(-5, 50)),
                       min_size=1, max_size=25)


def _value(key: str, second: int, created: int | None) -> float:
    return KEYS.index(key) * 10_000 + second * 100 + (0 if created is None else created + 1)


def event_frame(rows: list[tuple[str, int, int | None]]) -> pd.DataFrame:
    return pd.DataFrame({
        "user": [k for k, _, _ in rows],
        "ts": pd.to_datetime([T0 + pd.Timedelta(seconds=s) for _, s, _ in rows], utc=True),
        "created": pd.to_datetime([None if c is None else T0 + pd.Timedelta(seconds=c)
                                   for _, _, c in rows], utc=True),
        "score": [_value(*r) for r in rows],
        "count": [int(_value(*r)) % 7 for r in rows],
    }).astype({"score": "float64", "count": "int64", "user": "object"})


def definitions(ttl: int | None) -> Definitions:
    return Definitions(
        entities=[Entity(name="user", join_keys=["user"])],
        views=[FeatureView(name="activity", entities=["user"],
                           source=Source(kind="frame", name="activity"), timestamp_field="ts",
                           created_timestamp_field="created", ttl_seconds=ttl,
                           features=[Feature(name="score"), Feature(name="count", dtype="int64")])])


def reference(rows, key: str, second: int, ttl: int | None) -> float | None:
    """The newest row at or before ``second`` (created time breaks ties), if fresh enough."""
    seen = [r for r in rows if r[0] == key and r[1] <= second]
    if not seen:
        return None
    best = max(seen, key=lambda r: (r[1], -math.inf if r[2] is None else r[2]))
    if ttl is not None and best[1] < second - ttl:
        return None
    return _value(*best)


def store_with(rows, ttl: int | None, home: Path) -> FeatureStore:
    store = FeatureStore(Settings(home=home))
    store.write_source("activity", event_frame(rows))
    store.apply(definitions(ttl))
    return store


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=events, asked=entity_rows, ttl=st.none() | st.integers(1, 30))
def test_training_frame_matches_the_naive_reference(rows, asked, ttl):
    with tempfile.TemporaryDirectory() as tmp:
        store = store_with(rows, ttl, Path(tmp))
        entity = pd.DataFrame({"user": [k for k, _ in asked],
                               "event_timestamp": [T0 + pd.Timedelta(seconds=s) for _, s in asked],
                               "label": range(len(asked))})
        frame = store.get_training_frame(entity, ["activity:score", "activity:count"])
    assert frame["label"].tolist() == list(range(len(asked)))  # input order, labels kept
    for (key, second), score, count in zip(asked, frame["score"], frame["count"], strict=True):
        expected = reference(rows, key, second, ttl)
        if expected is None:
            assert pd.isna(score) and pd.isna(count)
        else:
            assert score == expected and count == int(expected) % 7
            # Never a future value: the value encodes its event second.
            assert (score % 10_000) // 100 <= second


def test_created_timestamp_breaks_ties_and_a_late_correction_wins(settings):
    rows = [("a", 10, 11), ("a", 10, 50), ("a", 10, 30), ("a", 5, 99)]
    store = store_with(rows, None, settings.home)
    entity = pd.DataFrame({"user": ["a", "a"], "event_timestamp": [T0 + pd.Timedelta(seconds=10),
                                                                   T0 + pd.Timedelta(seconds=9)]})
    frame = store.get_training_frame(entity, ["activity:score"])
    assert frame["score"].tolist() == [_value("a", 10, 50), _value("a", 5, 99)]


def test_the_readings_have_corrections_and_late_out_of_order_rows(readings):
    frame, stations = readings(30, random_state=3)
    assert frame.duplicated(["station_id", "sensor", "read_at"]).any()  # corrections
    assert (frame["recorded_at"] - frame["read_at"]).max() > pd.Timedelta("1D")
    assert not frame["read_at"].is_monotonic_increasing
    assert set(frame["station_id"]) <= set(stations["station_id"])


def test_several_views_and_entities_with_composite_keys(settings, readings, publish_readings):
    frame, stations = readings(30, random_state=3)
    store = FeatureStore(settings)
    publish_readings(store, frame, stations)
    asked = frame.sample(20, random_state=0)[["station_id", "sensor", "read_at"]]
    asked = asked.rename(columns={"read_at": "event_timestamp"})
    got = store.get_training_frame(asked, ["sensor_readings:level", "sensor_readings:mid",
                                           "station_profile:altitude"], full_names=True)
    for (_, row), (_, out) in zip(asked.iterrows(), got.iterrows(), strict=True):
        same = frame[(frame.station_id == row.station_id) & (frame.sensor == row.sensor)
                     & (frame.read_at <= row.event_timestamp)]
        best = same.sort_values(["read_at", "recorded_at"]).iloc[-1]  # corrections win
        assert out["sensor_readings__level"] == best["level"]
        assert out["sensor_readings__mid"] == pytest.approx((best.low + best.high) / 2)
        altitude = stations.set_index("station_id").loc[row.station_id, "altitude"]
        assert out["station_profile__altitude"] == altitude


@pytest.mark.parametrize(("entity", "features", "error", "field"), [
    (pd.DataFrame({"user": ["a"]}), ["activity:score"], DataError, "event_timestamp"),
    (pd.DataFrame({"event_timestamp": [T0]}), ["activity:score"], DataError, "user"),
    (pd.DataFrame({"user": [None], "event_timestamp": [T0]}), ["activity:score"], DataError,
     "user"),
    (pd.DataFrame({"user": ["a"], "event_timestamp": ["not a time"]}), ["activity:score"],
     DataError, "event_timestamp"),
    (pd.DataFrame({"user": ["a"], "event_timestamp": [T0]}), ["activity:nope"], NotFoundError,
     "features"),
    (pd.DataFrame({"user": ["a"], "event_timestamp": [T0]}), ["nope:score"], NotFoundError,
     "features"),
    (pd.DataFrame({"user": ["a"], "event_timestamp": [T0]}), ["activity@0000:score"],
     NotFoundError, "features"),
    (pd.DataFrame({"user": ["a"], "event_timestamp": [T0]}), ["score"], ConfigError, "features"),
    (pd.DataFrame({"user": ["a"], "event_timestamp": [T0], "score": [1]}), ["activity:score"],
     ConfigError, "features"),
])
def test_bad_requests_name_what_is_wrong(settings, entity, features, error, field):
    store = store_with([("a", 1, None)], None, settings.home)
    with pytest.raises(error) as err:
        store.get_training_frame(entity, features)
    assert err.value.field == field and err.value.fix


def test_epoch_second_timestamps_in_sources_and_entity_frames(settings):
    store = FeatureStore(settings)
    store.write_source("clicks", pd.DataFrame({"item_id": ["p1", "p1"], "timestamp": [100, 200],
                                               "n": np.array([1, 2])}))
    store.apply(Definitions(entities=[Entity(name="item", join_keys=["item_id"])], views=[
        FeatureView(name="clicks", entities=["item"], source=Source(kind="frame", name="clicks"),
                    timestamp_field="timestamp", features=[Feature(name="n", dtype="int64")])]))
    frame = store.get_training_frame(
        pd.DataFrame({"item_id": ["p1"] * 3, "t": [99, 150, 200]}), ["clicks:n"],
        timestamp_column="t")
    assert frame["n"].isna().tolist() == [True, False, False]
    assert frame["n"].tolist()[1:] == [1, 2]
