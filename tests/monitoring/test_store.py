"""Contract every prediction-log backend must pass (SQLite here; PostgreSQL with psycopg)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.postgres import postgres_dsn

from recstack.errors import ConfigError
from recstack.monitoring.log import open_store
from recstack.monitoring.store import LogStore, PostgresLogStore, SQLiteLogStore, log_stores


def _row(rid: str, t: float, model: str = "m") -> tuple:
    return (rid, t, model, "1", None, json.dumps({"x": t}), json.dumps(t * 2))


def _postgres_store() -> PostgresLogStore:
    """A store on the server that RECSTACK_TEST_POSTGRES_DSN names (.ci/run starts one), with a
    clean slate per test."""
    return PostgresLogStore(postgres_dsn("DROP TABLE IF EXISTS predictions, labels"))


# One factory per registered backend; a backend added to the plugin table without one fails
# the suite instead of skipping it.
STORE_FACTORIES: dict[str, Callable[[Path], LogStore]] = {
    "sqlite": lambda tmp_path: SQLiteLogStore(tmp_path / "log.db"),
    "postgres": lambda tmp_path: _postgres_store(),
}


@pytest.fixture(params=log_stores())
def store(request, tmp_path):
    """Every registered backend passes the same contract."""
    factory = STORE_FACTORIES.get(request.param)
    if factory is None:
        pytest.fail(f"log store {request.param!r} is registered but has no factory in "
                    "tests/monitoring/test_store.py: add one so it runs the contract suite")
    return factory(tmp_path)


def test_every_registered_backend_has_a_contract_fixture():
    assert log_stores() == sorted(STORE_FACTORIES) == ["postgres", "sqlite"]


def test_writes_are_idempotent_and_read_back_in_time_order(store):
    store.write_predictions([_row("b", 2.0), _row("a", 1.0), _row("c", 3.0, "other")])
    store.write_predictions([_row("a", 1.0)])  # a replayed journal entry
    frame = store.read_predictions()
    assert frame["request_id"].tolist() == ["a", "b", "c"]
    assert store.read_predictions("m", start=1.5)["request_id"].tolist() == ["b"]
    assert store.read_predictions(end=2.0)["request_id"].tolist() == ["a"]
    assert json.loads(frame["features"].iloc[1]) == {"x": 2.0}


def test_known_ids_and_label_upsert(store):
    store.write_predictions([_row(f"r{i}", float(i)) for i in range(1000)])
    assert store.known_request_ids(["r1", "r999", "nope"]) == {"r1", "r999"}
    store.write_labels([("r1", "1.0", 5.0)])
    store.write_labels([("r1", "2.0", 6.0)])
    labels = store.read_labels()
    assert labels.to_dict("records") == [{"request_id": "r1", "label": "2.0", "label_time": 6.0}]


def test_unreachable_postgres_is_a_config_error_naming_the_setting():
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    with pytest.raises(ConfigError) as caught:
        PostgresLogStore("postgresql://nobody@127.0.0.1:1/none")  # port 1: nothing listens
    assert caught.value.field == "monitoring.log_store.dsn"


def test_the_settings_pick_the_backend_by_type(settings):
    assert isinstance(open_store(settings), SQLiteLogStore)
    assert settings.monitoring.resolved_store_path(settings.home).exists()

