"""The offline-store contract: every engine (DuckDB, Spark) must pass these same tests.

``engine_settings`` (tests/features/conftest.py) chooses each engine in turn through
``features.offline_engine``; Spark's run is marked slow (it starts a JVM once per process) and
skips, saying how to get it, without pyspark or Java.
"""

from __future__ import annotations

import math
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from recstack.errors import ConfigError, DataError
from recstack.features import Definitions, Entity, Feature, FeatureStore, FeatureView, Source
from recstack.features.offline_store import (
    check_offline_engine,
    create_offline_store,
    offline_engines,
)
from recstack.settings import Settings

T0 = pd.Timestamp("2025-03-01", tz="UTC")


def at(second: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=second)


def events(rows: list[tuple[str, int, int | None, float]]) -> pd.DataFrame:
    """(user, event second, created second or None, score) -> a source frame."""
    return pd.DataFrame({
        "user": [r[0] for r in rows],
        "ts": pd.to_datetime([at(r[1]) for r in rows], utc=True),
        "created": pd.to_datetime([None if r[2] is None else at(r[2]) for r in rows], utc=True),
        "score": [float(r[3]) for r in rows]})


def activity(ttl: int | None = None, extra: list[Feature] | None = None) -> Definitions:
    return Definitions(
        entities=[Entity(name="user", join_keys=["user"])],
        views=[FeatureView(name="activity", entities=["user"],
                           source=Source(kind="frame", name="activity"), timestamp_field="ts",
                           created_timestamp_field="created", ttl_seconds=ttl,
                           features=[Feature(name="score"), *(extra or [])])])


def publish(settings: Settings, frame: pd.DataFrame, definitions: Definitions) -> FeatureStore:
    store = FeatureStore(settings)
    store.write_source("activity", frame)
    store.apply(definitions)
    return store


def asked(rows: list[tuple[str, float]]) -> pd.DataFrame:
    return pd.DataFrame({"user": [u for u, _ in rows], "event_timestamp": [at(s) for _, s in rows]})


def test_the_newest_value_at_or_before_each_row_and_never_a_future_one(engine_settings):
    store = publish(engine_settings, events([
        ("a", 10, None, 1), ("a", 20, None, 2), ("a", 30, None, 3), ("b", 15, None, 7)]),
        activity())
    frame = store.get_training_frame(asked([
        ("a", 9), ("a", 10), ("a", 19.5), ("a", 20), ("a", 1000), ("b", 14), ("b", 15),
        ("zz", 50)]), ["activity:score"])
    # before the first event, exactly at an event (known at t), between, long after; a key the
    # view has never seen: missing
    assert frame["score"].tolist()[1:5] == [1, 1, 2, 3]
    assert frame["score"].isna().tolist() == [True, False, False, False, False, True, False, True]


def test_ttl_keeps_a_value_exactly_ttl_old_and_drops_an_older_one(engine_settings):
    store = publish(engine_settings, events([("a", 10, None, 1), ("a", 40, None, 2)]),
                    activity(ttl=5))
    frame = store.get_training_frame(asked([("a", 15), ("a", 15.5), ("a", 40), ("a", 46)]),
                                     ["activity:score"])
    assert frame["score"].isna().tolist() == [False, True, False, True]
    assert frame["score"].iloc[0] == 1 and frame["score"].iloc[2] == 2


def test_ties_the_latest_created_wins_then_the_smallest_value(engine_settings):
    store = publish(engine_settings, events([
        ("a", 10, 11, 1), ("a", 10, 50, 2), ("a", 10, 30, 3), ("a", 10, None, 4),  # corrections
        ("b", 10, None, 9), ("b", 10, None, 8),  # exact duplicates with different values
        ("c", 10, 12, 5), ("c", 20, None, 6)]),  # a newer event wins over any correction
        activity())
    frame = store.get_training_frame(asked([("a", 10), ("b", 10), ("c", 25), ("c", 15)]),
                                     ["activity:score"])
    assert frame["score"].tolist() == [2, 8, 6, 5]


def test_a_random_log_matches_the_naive_reference(engine_settings):
    rng = np.random.default_rng(7)
    n, ttl = 400, 20
    log = [(str(rng.choice(["a", "b", "c", "d"])), int(rng.integers(0, 100)),
            None if rng.random() < .3 else int(rng.integers(0, 150)), float(i)) for i in range(n)]
    rows = [(str(rng.choice(["a", "b", "c", "d", "e"])), int(rng.integers(-5, 130)))
            for _ in range(300)]
    store = publish(engine_settings, events(log), activity(ttl=ttl))
    frame = store.get_training_frame(asked(rows), ["activity:score"])

    def reference(key: str, second: int) -> float | None:
        seen = [r for r in log if r[0] == key and r[1] <= second]
        if not seen:
            return None
        # newest event, then latest created (None oldest), then smallest value
        best = max(seen, key=lambda r: (r[1], -math.inf if r[2] is None else r[2], -r[3]))
        return None if best[1] < second - ttl else best[3]

    expected = [reference(key, second) for key, second in rows]
    got = [None if pd.isna(v) else v for v in frame["score"]]
    assert got == expected
    assert sum(v is not None for v in expected) > 100  # not a comparison of missing values


def test_several_views_with_composite_keys_keep_rows_index_and_labels(
        engine_settings, readings, publish_readings):
    frame, stations = readings(30, random_state=3)
    store = FeatureStore(engine_settings)
    publish_readings(store, frame, stations)
    rows = frame.sample(40, random_state=0)[["station_id", "sensor", "read_at"]]
    rows = rows.rename(columns={"read_at": "event_timestamp"})
    rows["event_timestamp"] += pd.Timedelta(hours=1)
    rows["label"] = np.arange(len(rows))
    rows.index = [f"r{i}" for i in range(len(rows))]
    got = store.get_training_frame(rows, ["station_profile:region", "sensor_readings:level",
                                          "sensor_readings:mid", "station_profile:altitude"],
                                   full_names=True)
    assert got.index.tolist() == rows.index.tolist()
    assert got["label"].tolist() == rows["label"].tolist()
    # grouped by view, in the order each view was first asked for
    assert list(got.columns[-4:]) == ["station_profile__region", "station_profile__altitude",
                                      "sensor_readings__level", "sensor_readings__mid"]
    profile = stations.set_index("station_id")
    for (_, row), (_, out) in zip(rows.iterrows(), got.iterrows(), strict=True):
        same = frame[(frame.station_id == row.station_id) & (frame.sensor == row.sensor)
                     & (frame.read_at <= row.event_timestamp)]
        best = same.sort_values(["read_at", "recorded_at"]).iloc[-1]  # corrections win
        assert out["sensor_readings__level"] == best["level"]
        assert out["sensor_readings__mid"] == pytest.approx((best.low + best.high) / 2)
        assert out["station_profile__altitude"] == profile.loc[row.station_id, "altitude"]
        assert out["station_profile__region"] == profile.loc[row.station_id, "region"]


def test_feature_types_with_and_without_missing_values(engine_settings):
    source = events([("a", 10, None, 1.5), ("b", 10, None, 2.5)]).assign(
        n=np.array([3, 4], dtype=np.int64), city=["Seoul", "Ünïcode"], open=[True, False])
    extra = [Feature(name="n", dtype="int64"), Feature(name="city", dtype="string"),
             Feature(name="open", dtype="bool")]
    store = publish(engine_settings, source, activity(extra=extra))
    features = ["activity:score", "activity:n", "activity:city", "activity:open"]
    full = store.get_training_frame(asked([("b", 20), ("a", 20)]), features)
    assert full[["score", "n", "city", "open"]].to_dict("list") == {
        "score": [2.5, 1.5], "n": [4, 3], "city": ["Ünïcode", "Seoul"], "open": [False, True]}
    assert full.dtypes[["score", "n", "open"]].astype(str).tolist() == ["float64", "int64", "bool"]
    holes = store.get_training_frame(asked([("a", 20), ("zz", 20)]), features)
    assert holes.dtypes[["score", "n", "city", "open"]].astype(str).tolist() == [
        "float64", "float64", "object", "object"]
    assert holes.iloc[1][["city", "open"]].tolist() == [None, None]
    assert holes["n"].iloc[0] == 3 and np.isnan(holes["n"].iloc[1])
    empty = store.get_training_frame(asked([]), features)
    assert len(empty) == 0
    assert empty.dtypes[["score", "n", "city", "open"]].astype(str).tolist() == [
        "float64", "int64", "object", "bool"]


def test_file_sources_epoch_seconds_and_sql_transformations(engine_settings, tmp_path):
    rows = pd.DataFrame({"item_id": ["p1", "p1", "p2"], "t": [100, 200, 150],
                         "price": [10.0, 12.0, 7.0]})
    rows.to_csv(tmp_path / "prices.csv", index=False)
    naive = rows.assign(t=pd.to_datetime(rows["t"], unit="s"))  # naive datetimes are UTC
    naive.to_parquet(tmp_path / "prices.parquet")  # pandas writes nanoseconds
    item = Entity(name="item", join_keys=["item_id"])
    views = [FeatureView(name=f"from_{kind}", entities=["item"],
                         source=Source(kind=kind, path=str(tmp_path / f"prices.{kind}")),
                         timestamp_field="t", transformation_sql="SELECT *, price * 2 AS double "
                                                                 "FROM source",
                         features=[Feature(name="price"), Feature(name="double")])
             for kind in ("csv", "parquet")]
    store = FeatureStore(engine_settings)
    store.apply(Definitions(entities=[item], views=views))
    entity = pd.DataFrame({"item_id": ["p1", "p1", "p2", "p1"], "t": [99, 150, 150, 250]})
    got = store.get_training_frame(entity, ["from_csv:price", "from_parquet:double"],
                                   timestamp_column="t")
    assert got["price"].tolist()[1:] == [10.0, 7.0, 12.0] and np.isnan(got["price"].iloc[0])
    assert got["double"].tolist()[1:] == [20.0, 14.0, 24.0]


def test_duckdb_table_sql_query_and_python_transformation_sources(engine_settings, tmp_path,
                                                                   monkeypatch):
    (tmp_path / "contract_transformations.py").write_text(
        "def upper(frame):\n    return frame.assign(city=frame['city'].str.upper())\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    rows = pd.DataFrame({"item_id": ["p1", "p2"], "t": pd.to_datetime([T0, T0]),
                         "city": ["Seoul", "Busan"]})
    rows.to_parquet(tmp_path / "cities.parquet")
    with duckdb.connect(str(tmp_path / "shop.duckdb")) as conn:
        conn.execute("CREATE TABLE cities AS SELECT * FROM rows")
    city = [Feature(name="city", dtype="string")]
    views = [
        FeatureView(name="from_table", entities=["item"], timestamp_field="t", features=city,
                    source=Source(kind="duckdb", path=str(tmp_path / "shop.duckdb"),
                                  table="cities")),
        FeatureView(name="from_sql", entities=["item"], timestamp_field="t", features=city,
                    source=Source(kind="sql", query=f"SELECT * FROM read_parquet("
                                  f"'{tmp_path / 'cities.parquet'}') WHERE city = 'Seoul'")),
        FeatureView(name="from_python", entities=["item"], timestamp_field="t", features=city,
                    source=Source(kind="parquet", path=str(tmp_path / "cities.parquet")),
                    transformation_python="contract_transformations:upper")]
    store = FeatureStore(engine_settings)
    store.apply(Definitions(entities=[Entity(name="item", join_keys=["item_id"])], views=views))
    got = store.get_training_frame(
        pd.DataFrame({"item_id": ["p1", "p2"], "event_timestamp": [T0, T0]}),
        ["from_table:city", "from_sql:city", "from_python:city"], full_names=True)
    assert got["from_table__city"].tolist() == ["Seoul", "Busan"]
    assert got["from_sql__city"].tolist() == ["Seoul", None]
    assert got["from_python__city"].tolist() == ["SEOUL", "BUSAN"]


def test_materialisation_reads_the_newest_row_per_key_in_each_window(engine_settings):
    store = publish(engine_settings, events([
        ("a", 10, None, 1), ("a", 20, None, 2), ("a", 20, 25, 3), ("b", 5, None, 4),
        ("c", 50, None, 5)]), activity())
    table = store.list_views()[0].table
    assert store.materialize(end=at(20)) == {table: 2}  # a (newest: the correction) and b
    online = store.get_online_features([{"user": u} for u in "abc"], ["activity:score"],
                                       at=at(20))
    offline = store.get_training_frame(asked([(u, 20) for u in "abc"]), ["activity:score"])
    assert [r["score"] for r in online.rows] == [3, 4, None]
    assert offline["score"].tolist()[:2] == [3, 4] and np.isnan(offline["score"].iloc[2])
    assert store.materialize(end=at(60)) == {table: 1}  # only c is new in (20, 60]


def test_bad_sources_are_refused_by_apply_naming_the_field(engine_settings):
    frame = events([("a", 10, None, 1)])
    store = FeatureStore(engine_settings)
    store.write_source("activity", frame.assign(score=["text"]))
    with pytest.raises(DataError) as err:
        store.apply(activity())
    assert err.value.field == "views.activity.features.score" and "float64" in str(err.value)
    store.write_source("activity", frame.drop(columns="ts"))
    with pytest.raises(DataError) as err:
        store.apply(activity())
    assert err.value.field == "views.activity.ts"
    assert store.list_views() == []  # nothing half-written


def test_every_engine_has_a_contract_fixture(offline_engine_factories):
    assert offline_engines() == sorted(offline_engine_factories) == ["duckdb", "spark"]


def test_the_engine_is_a_settings_switch(monkeypatch, tmp_path):
    assert Settings().features.offline_engine == "duckdb"
    monkeypatch.setenv("RECSTACK_FEATURES__OFFLINE_ENGINE", "spark")
    assert Settings().features.offline_engine == "spark"
    monkeypatch.setenv("RECSTACK_FEATURES__OFFLINE_ENGINE", "hadoop")
    with pytest.raises(ValidationError, match="offline_engine"):
        Settings()
    with pytest.raises(ConfigError) as err:
        create_offline_store("hadoop", tmp_path)
    assert err.value.field == "features.offline_engine"


def test_choosing_spark_without_pyspark_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "recstack.features.spark", raising=False)
    for name in [m for m in sys.modules if m.split(".")[0] in {"pyspark", "py4j"}]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed, imported or not
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ConfigError) as err:
        create_offline_store("spark", tmp_path)
    assert err.value.field == "extra 'spark'" and "[spark]" in str(err.value.fix)


def test_spark_without_java_says_how_to_install_it(monkeypatch, tmp_path):
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[spark]'")
    from pyspark.sql import SparkSession

    from recstack.features import spark

    monkeypatch.setattr(SparkSession, "getActiveSession", staticmethod(lambda: None))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # no bin/java there
    for check in (spark.spark_session, lambda: check_offline_engine("spark")):
        with pytest.raises(ConfigError) as err:
            check()  # the pre-flight check says the same without starting anything
        assert err.value.field == "features.offline_engine"
        assert "openjdk-17-jre-headless" in str(err.value.fix)
    check_offline_engine("duckdb")  # needs nothing


def test_the_duckdb_engine_never_imports_pyspark(tmp_path):
    code = ("import sys, pandas as pd; from recstack.features import FeatureStore; "
            "from recstack.settings import Settings; "
            f"s = FeatureStore(Settings(home={str(tmp_path)!r})); s.offline_store; "
            "assert 'pyspark' not in sys.modules, 'pyspark imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
