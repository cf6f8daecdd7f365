"""Definitions, versions and the catalog: apply, diff, list; bad input leaves nothing behind."""

from __future__ import annotations

import json
import sqlite3

import duckdb
import pandas as pd
import pytest

from recstack.errors import ConfigError, DataError
from recstack.features import (
    Definitions,
    Entity,
    Feature,
    FeatureStore,
    FeatureView,
    Source,
    load_definitions,
)

T0 = pd.Timestamp("2025-01-01", tz="UTC")


def prices() -> pd.DataFrame:
    return pd.DataFrame({"item_id": ["p1", "p2", "p1"],
                         "updated": [T0, T0, T0 + pd.Timedelta(1, "D")],
                         "price": [100, 200, 150], "city": ["Seoul", "Busan", "Seoul"]})


def view(**changes) -> FeatureView:
    fields = dict(name="prices", entities=["item"], source=Source(kind="frame", name="prices"),
                  timestamp_field="updated", features=[Feature(name="price", dtype="int64"),
                                                       Feature(name="city", dtype="string")])
    return FeatureView(**(fields | changes))


def defs(*views: FeatureView) -> Definitions:
    return Definitions(entities=[Entity(name="item", join_keys=["item_id"])],
                       views=list(views) or [view()])


@pytest.fixture()
def store(settings) -> FeatureStore:
    store = FeatureStore(settings)
    store.write_source("prices", prices())
    return store


def test_apply_is_idempotent_and_a_change_makes_a_new_version(store):
    first = store.apply(defs())
    assert [c.status for c in first] == ["added"]
    assert [c.status for c in store.apply(defs())] == ["unchanged"]
    assert len(store.list_views(all_versions=True)) == 1
    # A description does not change the values, so not the version either.
    assert store.apply(defs(view(description="now documented")))[0].status == "unchanged"
    changed = store.apply(defs(view(ttl_seconds=3600)))[0]
    assert changed.status == "changed" and changed.changed_fields == ["ttl_seconds"]
    assert changed.old_version == first[0].new_version != changed.new_version
    versions = store.list_views(all_versions=True)
    assert [v.active for v in versions] == [False, True]
    assert [v.version for v in store.list_views()] == [changed.new_version]


def test_old_versions_stay_readable_with_their_own_definition(store):
    old = store.apply(defs())[0].new_version
    doubled = view(transformation_sql="SELECT item_id, updated, price * 2 AS price, city "
                                      "FROM source")
    new = store.apply(defs(doubled))[0].new_version
    entity = pd.DataFrame({"item_id": ["p1"], "event_timestamp": [T0 + pd.Timedelta(2, "D")]})
    frame = store.get_training_frame(entity, [f"prices@{old}:price", "prices:city"])
    assert frame["price"].tolist() == [150] and frame["city"].tolist() == ["Seoul"]
    assert store.get_training_frame(entity, [f"prices@{new}:price"])["price"].tolist() == [300]
    store.materialize(end=T0 + pd.Timedelta(3, "D"), views=["prices", f"prices@{old}"])
    online = store.get_online_features([{"item_id": "p1"}], [f"prices@{old}:price"])
    assert online.features == [f"prices@{old}:price"] and online.rows[0]["price"] == 150
    latest = store.get_online_features([{"item_id": "p1"}], ["prices:price"])
    assert latest.features == [f"prices@{new}:price"] and latest.rows[0]["price"] == 300


def test_diff_shows_changes_without_writing(store):
    store.apply(defs())
    other = view(name="other", features=[Feature(name="price", dtype="float64")])
    changes = {c.name: c for c in store.diff(defs(view(ttl_seconds=60), other))}
    assert changes["prices"].status == "changed" and changes["other"].status == "added"
    assert [v.name for v in store.list_views()] == ["prices"]
    assert store.diff(Definitions(entities=[]))[0].status == "only_in_catalog"


def test_a_home_from_before_the_catalog_rename_keeps_its_views(store, settings):
    version = store.apply(defs())[0].new_version
    store.close()
    store.catalog.path.rename(store.catalog.path.with_name("registry.db"))
    reopened = FeatureStore(settings)
    assert reopened.catalog.path.name == "registry.db"
    assert [(v.name, v.version) for v in reopened.list_views()] == [("prices", version)]


def test_the_catalog_refresh_setting_still_reads_its_old_name(monkeypatch):
    from recstack.settings import Settings

    monkeypatch.setenv("RECSTACK_FEATURES__REGISTRY_REFRESH_SECONDS", "7")
    assert Settings().features.catalog_refresh_seconds == 7
    monkeypatch.setenv("RECSTACK_FEATURES__CATALOG_REFRESH_SECONDS", "3")
    monkeypatch.delenv("RECSTACK_FEATURES__REGISTRY_REFRESH_SECONDS")
    assert Settings().features.catalog_refresh_seconds == 3


def _catalog_rows(store: FeatureStore) -> list:
    if not store.catalog.path.exists():
        return []
    with sqlite3.connect(store.catalog.path) as conn:
        return [conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("entities", "views", "active_views")]


BAD = {
    "schema mismatch": (view(features=[Feature(name="city", dtype="float64")]), DataError,
                        "views.prices.features.city"),
    "missing timestamp": (view(timestamp_field="valid_from"), DataError, "views.prices.valid_from"),
    "missing feature": (view(features=[Feature(name="rating")]), DataError,
                        "views.prices.features.rating"),
    "no source": (view(source=None), ConfigError, "views.prices"),
    "source never stored": (view(source=Source(kind="frame", name="nothing")), DataError,
                            "views.prices.source"),
    "missing file": (view(source=Source(kind="parquet", path="/nonexistent/x.parquet")),
                     DataError, "views.prices.source"),
    "source kind without its field": (view(source=Source(kind="csv")), ConfigError,
                                      "views.prices.source.path"),
    "unknown entity": (view(entities=["shop"]), ConfigError, "views.prices.entities"),
    "duplicate feature": (view(features=[Feature(name="price"), Feature(name="price")]),
                          ConfigError, "views.prices.features"),
    "bad sql": (view(transformation_sql="SELECT nope FROM source"), DataError,
                "views.prices.source"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_definitions_name_the_thing_and_leave_the_catalog_as_it_was(store, case):
    good = view(name="good")
    store.apply(defs(good))
    before = _catalog_rows(store)
    bad, error, field = BAD[case]
    with pytest.raises(error) as err:
        store.apply(defs(view(name="good", ttl_seconds=5), bad))
    assert err.value.field == field and err.value.fix, str(err.value)
    assert _catalog_rows(store) == before


def test_duplicate_view_names_are_rejected(store):
    with pytest.raises(ConfigError, match="more than once") as err:
        store.apply(defs(view(), view()))
    assert err.value.field == "views"
    assert store.list_views() == []


def test_definitions_load_from_yaml_json_and_python(tmp_path, store):
    raw = defs().model_dump(mode="json")
    (tmp_path / "d.json").write_text(json.dumps(raw))
    (tmp_path / "d.py").write_text(
        "from recstack.features import Definitions\n"
        f"DEFINITIONS = Definitions.model_validate({raw!r})\n")
    import yaml

    (tmp_path / "d.yaml").write_text(yaml.safe_dump(raw))
    loaded = [load_definitions(tmp_path / f"d.{ext}") for ext in ("json", "py", "yaml")]
    assert loaded[0] == loaded[1] == loaded[2] == defs()
    (tmp_path / "bad.yaml").write_text("views: [{name: x, entities: [item], oops: 1}]")
    with pytest.raises(ConfigError) as err:
        load_definitions(tmp_path / "bad.yaml")
    assert err.value.field.startswith("views.0")


def test_relative_paths_in_a_file_start_at_the_file(tmp_path, settings):
    (tmp_path / "data").mkdir()
    prices().to_csv(tmp_path / "data" / "prices.csv", index=False)
    raw = defs(view(source=Source(kind="csv", path="data/prices.csv"))).model_dump(mode="json")
    (tmp_path / "defs.json").write_text(json.dumps(raw))
    store = FeatureStore(settings)
    assert store.apply(tmp_path / "defs.json")[0].status == "added"
    entity = pd.DataFrame({"item_id": ["p2"], "event_timestamp": [T0]})
    assert store.get_training_frame(entity, ["prices:price"])["price"].tolist() == [200]


def test_duckdb_table_sql_query_and_python_transformation_sources(tmp_path, settings,
                                                                   monkeypatch):
    # A user's transformation module, importable the way a deployment would make it.
    (tmp_path / "shop_transformations.py").write_text(
        "def uppercase_city(frame):\n    return frame.assign(city=frame['city'].str.upper())\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    db = tmp_path / "shop.duckdb"
    with duckdb.connect(str(db)) as conn:
        frame = prices()
        conn.execute("CREATE TABLE prices AS SELECT * FROM frame")
    parquet = tmp_path / "prices.parquet"
    prices().to_parquet(parquet)
    views = [
        view(name="from_table", source=Source(kind="duckdb", path=str(db), table="prices")),
        view(name="from_sql", source=Source(
            kind="sql", query=f"SELECT * FROM read_parquet('{parquet}') WHERE city = 'Seoul'")),
        view(name="from_python", source=Source(kind="parquet", path=str(parquet)),
             transformation_python="shop_transformations:uppercase_city"),
    ]
    store = FeatureStore(settings)
    store.apply(defs(*views))
    entity = pd.DataFrame({"item_id": ["p1", "p2"], "event_timestamp": [T0, T0]})
    frame = store.get_training_frame(entity, ["from_table:price", "from_sql:city",
                                              "from_python:city"], full_names=True)
    assert frame["from_table__price"].tolist() == [100, 200]
    assert frame["from_sql__city"].tolist()[0] == "Seoul" and pd.isna(frame["from_sql__city"][1])
    assert frame["from_python__city"].tolist() == ["SEOUL", "BUSAN"]


def test_online_reads_validate_entity_rows(store):
    store.apply(defs())
    with pytest.raises(DataError) as err:
        store.get_online_features([{"item_id": "p1"}, {"shop": 1}], ["prices:price"])
    assert err.value.field == "entity_rows.1.item_id"
    with pytest.raises(ConfigError):
        store.materialize(T0 + pd.Timedelta(1, "D"), T0)


def test_served_vectors_are_logged_exactly(store):
    store.apply(defs())
    store.materialize(end=T0 + pd.Timedelta(5, "D"))
    served = store.get_online_features([{"item_id": "p1"}, {"item_id": "p9"}],
                                       ["prices:price", "prices:city"], log_as="seq-model")
    log = store.served_vectors("seq-model")
    assert log["entity"].tolist() == [{"item_id": "p1"}, {"item_id": "p9"}]
    assert log["values"].tolist() == [[150, "Seoul"], [None, None]]
    assert log["features"].iloc[0] == served.features
    assert store.served_vectors("someone-else").empty


def test_a_failed_materialisation_resumes_skipping_the_views_it_finished(store):
    other = view(name="stock", source=Source(kind="frame", name="stock"))
    store.write_source("stock", prices())
    store.apply(defs(view(), other))
    end = T0 + pd.Timedelta(3, "D")
    (store.sources_dir / "stock.parquet").unlink()  # the second view fails half-way
    with pytest.raises(DataError, match="stock"):
        store.materialize(end=end, views=["prices", "stock"])
    (job,) = (store.home / "jobs").iterdir()
    # The finished view is not redone: a changed source does not reach the online store
    # until the next materialisation, as if the first run had not been interrupted.
    store.write_source("prices", prices().assign(price=[1, 2, 3]))
    store.write_source("stock", prices())
    tables = [v.table for v in store.list_views()]
    assert store.materialize(end=end, views=["prices", "stock"]) == dict.fromkeys(tables, 2)
    for name in ("prices", "stock"):
        online = store.get_online_features([{"item_id": "p1"}], [f"{name}:price"])
        assert online.rows[0]["price"] == 150
    assert not job.exists()  # a finished job is cleared: the next call starts afresh
    store.materialize(start=T0 - pd.Timedelta(1, "D"), end=end, views=["prices"])
    assert store.get_online_features([{"item_id": "p1"}], ["prices:price"]).rows[0]["price"] == 3
