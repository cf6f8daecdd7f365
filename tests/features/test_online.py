"""The online-store contract: every backend (SQLite, Redis) must pass these same tests."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from recstack.errors import ConfigError
from recstack.features import OnlineRecord
from recstack.features.online import NO_CREATED, entity_key, online_store_class, online_stores
from recstack.settings import Settings


def test_read_returns_one_entry_per_key_in_input_order_with_none_for_missing(online_store):
    online_store.write("v@1", [("a", OnlineRecord({"x": 1.5, "s": "hi"}, 10)),
                               ("b", OnlineRecord({"x": None, "s": "yo"}, 20))])
    got = online_store.read("v@1", ["b", "missing", "a", "b"])
    assert [g.values if g else None for g in got] == [
        {"x": None, "s": "yo"}, None, {"x": 1.5, "s": "hi"}, {"x": None, "s": "yo"}]
    assert got[2].event_us == 10 and got[2].created_us == NO_CREATED
    assert online_store.read("v@1", []) == []


def test_a_key_keeps_the_newest_event_then_the_newest_created(online_store):
    online_store.write("v@1", [("k", OnlineRecord({"x": 2}, 200, 5))])
    online_store.write("v@1", [("k", OnlineRecord({"x": 1}, 100, 9))])  # late, older event
    assert online_store.read("v@1", ["k"])[0].values == {"x": 2}
    online_store.write("v@1", [("k", OnlineRecord({"x": 3}, 200, 4))])  # same event, older fix
    assert online_store.read("v@1", ["k"])[0].values == {"x": 2}
    online_store.write("v@1", [("k", OnlineRecord({"x": 4}, 200, 6))])  # same event, newer fix
    assert online_store.read("v@1", ["k"])[0] == OnlineRecord({"x": 4}, 200, 6)
    online_store.write("v@1", [("k", OnlineRecord({"x": 5}, 300))])  # newer event, no created
    assert online_store.read("v@1", ["k"])[0].values == {"x": 5}


def test_tables_are_separate_and_drop_forgets_only_one(online_store):
    online_store.write("v@1", [("k", OnlineRecord({"x": 1}, 1))])
    online_store.write("v@2", [("k", OnlineRecord({"x": 2}, 1))])
    assert online_store.read("v@2", ["k"])[0].values == {"x": 2}
    online_store.drop("v@1")
    assert online_store.read("v@1", ["k"]) == [None]
    assert online_store.read("v@2", ["k"])[0].values == {"x": 2}


def test_batches_larger_than_one_round_trip(online_store):
    n = 2_345
    written = online_store.write("v@1", [(f"k{i}", OnlineRecord({"i": i}, i)) for i in range(n)])
    assert written == n
    keys = [f"k{i}" for i in range(n - 1, -1, -1)]
    assert [r.values["i"] for r in online_store.read("v@1", keys)] == list(range(n - 1, -1, -1))


def test_values_keep_their_types(online_store):
    values = {"f": 0.1 + 0.2, "i": 2**40, "s": "Ünïcode city", "b": True, "n": None}
    online_store.write("v@1", [(entity_key(["P1", "OD"]), OnlineRecord(values, 1))])
    assert online_store.read("v@1", [entity_key(["P1", "OD"])])[0].values == values


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ConfigError, match="redis") as err:
        online_store_class("cassandra")
    assert err.value.field == "features.online.type"


def test_every_registered_backend_has_a_contract_fixture(online_store_factories):
    assert online_stores() == sorted(online_store_factories) == ["redis", "sqlite"]


def test_the_online_store_is_chosen_by_type_from_nested_env_vars(monkeypatch):
    monkeypatch.setenv("RECSTACK_FEATURES__ONLINE__TYPE", "redis")
    monkeypatch.setenv("RECSTACK_FEATURES__ONLINE__URL", "redis://:s3cret-pw@cache:6380/2")
    monkeypatch.setenv("RECSTACK_FEATURES__ONLINE__KEY_PREFIX", "clinic")
    online = Settings().features.online
    assert online.type == "redis" and online.key_prefix == "clinic"
    assert online.url.get_secret_value() == "redis://:s3cret-pw@cache:6380/2"
    monkeypatch.delenv("RECSTACK_FEATURES__ONLINE__URL")
    monkeypatch.delenv("RECSTACK_FEATURES__ONLINE__KEY_PREFIX")
    monkeypatch.setenv("RECSTACK_FEATURES__ONLINE__TYPE", "sqlite")
    monkeypatch.setenv("RECSTACK_FEATURES__ONLINE__PATH", "/srv/online.db")
    online = Settings().features.online
    assert online.type == "sqlite" and str(online.path) == "/srv/online.db"


def test_a_redis_key_without_type_redis_and_the_old_names_are_refused(monkeypatch):
    monkeypatch.setenv("RECSTACK_FEATURES__ONLINE__URL", "redis://cache:6379/0")
    with pytest.raises(ValidationError, match="url"):
        Settings()  # the default type is sqlite: the URL would be silently ignored
    monkeypatch.delenv("RECSTACK_FEATURES__ONLINE__URL")
    monkeypatch.setenv("RECSTACK_FEATURES__ONLINE_BACKEND", "redis")
    with pytest.raises(ValidationError, match="RECSTACK_FEATURES__ONLINE__TYPE"):
        Settings()


def test_the_redis_url_is_secret_in_repr_and_json(monkeypatch):
    monkeypatch.setenv("RECSTACK_FEATURES__ONLINE__TYPE", "redis")
    monkeypatch.setenv("RECSTACK_FEATURES__ONLINE__URL", "redis://:s3cret-pw@cache:6380/2")
    settings = Settings()
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "s3cret-pw" not in text
    assert "**********" in settings.model_dump_json()

