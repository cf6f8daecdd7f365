"""Contract every prediction-log backend must pass (SQLite here; PostgreSQL with psycopg)."""

from __future__ import annotations

import json

import pytest

from recstack.errors import ConfigError
from recstack.monitoring.store import PostgresLogStore, SQLiteLogStore


def _row(rid: str, t: float, model: str = "m") -> tuple:
    return (rid, t, model, "1", None, json.dumps({"x": t}), json.dumps(t * 2))


@pytest.fixture(params=["sqlite"])
def store(request, tmp_path):
    return SQLiteLogStore(tmp_path / "log.db")


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


def test_postgres_without_driver_is_a_config_error():
    pytest.importorskip("recstack")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="psycopg"):
            PostgresLogStore("postgresql://localhost/none")
    else:
        pytest.skip("psycopg installed; the contract runs against a live server only")
