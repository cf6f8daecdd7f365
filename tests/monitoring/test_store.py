"""Contract every prediction-log backend must pass (SQLite here; PostgreSQL with psycopg)."""

from __future__ import annotations

import json
import os

import pytest

from recstack.errors import ConfigError
from recstack.monitoring.store import PostgresLogStore, SQLiteLogStore


def _row(rid: str, t: float, model: str = "m") -> tuple:
    return (rid, t, model, "1", None, json.dumps({"x": t}), json.dumps(t * 2))


def _postgres_store() -> PostgresLogStore:
    """A store on the server that RECSTACK_TEST_POSTGRES_DSN names (.ci/run starts one)."""
    dsn = os.environ.get("RECSTACK_TEST_POSTGRES_DSN")
    if not dsn:
        pytest.skip("no PostgreSQL server for tests: set RECSTACK_TEST_POSTGRES_DSN "
                    "(.ci/run starts one)")
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
            conn.execute("DROP TABLE IF EXISTS predictions, labels")  # a clean slate per test
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {dsn} does not answer: {exc}")
    return PostgresLogStore(dsn)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    """Every backend passes the same contract."""
    if request.param == "sqlite":
        return SQLiteLogStore(tmp_path / "log.db")
    return _postgres_store()


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
    assert caught.value.field == "monitoring.postgres_dsn"
