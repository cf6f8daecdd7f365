"""Where the prediction log and late labels live: an ABC with SQLite and PostgreSQL backends.

Backends register under the ``type`` of their config (``@register_log_store("sqlite")``; the
configs are in ``recstack.monitoring.config`` because the settings import them). Every
registered backend runs the same contract tests (``tests/monitoring/test_store.py``). Writes are
idempotent on ``request_id``, so replaying a write-ahead journal twice never duplicates a row.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd
from pydantic import BaseModel, SecretStr

from recstack.errors import ConfigError
from recstack.monitoring.config import PostgresLogStoreConfig, SQLiteLogStoreConfig, redact
from recstack.plugins import PluginTable
from recstack.sqlite import open_wal

if TYPE_CHECKING:
    from recstack.settings import Settings

PREDICTION_COLUMNS = ["request_id", "timestamp", "model_name", "model_version", "entity_id",
                      "features", "output"]
LABEL_COLUMNS = ["request_id", "label", "label_time"]

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS predictions (
        request_id TEXT PRIMARY KEY, timestamp REAL NOT NULL, model_name TEXT NOT NULL,
        model_version TEXT NOT NULL, entity_id TEXT, features TEXT NOT NULL,
        output TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS predictions_model_time ON predictions (model_name, timestamp)",
    """CREATE TABLE IF NOT EXISTS labels (
        request_id TEXT PRIMARY KEY, label TEXT NOT NULL, label_time REAL NOT NULL)""",
]


class LogStore(ABC):
    """Durable rows of served predictions and their late labels."""

    config_class: ClassVar[type[BaseModel]]

    @classmethod
    @abstractmethod
    def from_config(cls, config: Any, settings: Settings) -> LogStore:
        """Open the store that ``config`` (an instance of ``config_class``) describes."""

    @abstractmethod
    def write_predictions(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert rows in ``PREDICTION_COLUMNS`` order (JSON text for features and output) in one
        transaction; a row whose request_id is already stored is skipped, not duplicated."""

    @abstractmethod
    def read_predictions(self, model_name: str | None = None, start: float | None = None,
                         end: float | None = None) -> pd.DataFrame:
        """Rows with ``start <= timestamp < end`` (epoch seconds; None = open), oldest first,
        with ``PREDICTION_COLUMNS``; features and output still JSON text."""

    @abstractmethod
    def known_request_ids(self, request_ids: Sequence[str]) -> set[str]:
        """The subset of ``request_ids`` that has a logged prediction."""

    @abstractmethod
    def write_labels(self, rows: Sequence[tuple[str, str, float]]) -> None:
        """Upsert ``(request_id, label JSON, label_time)``; a later label replaces an earlier."""

    @abstractmethod
    def read_labels(self) -> pd.DataFrame:
        """All labels with ``LABEL_COLUMNS``; label still JSON text."""


_LOG_STORES: PluginTable[type[LogStore]] = PluginTable("prediction-log store",
                                                       field="monitoring.log_store.type")


def register_log_store(name: str) -> Callable[[type[LogStore]], type[LogStore]]:
    """Class decorator: make a backend available as ``log_store.type = name``."""
    return _LOG_STORES.register(name)


def log_store_class(name: str) -> type[LogStore]:
    """The backend registered as ``name``; the error lists the known ones."""
    return _LOG_STORES.get(name)


def log_stores() -> list[str]:
    """Names of the registered backends (the contract suite runs each)."""
    return _LOG_STORES.names()


@register_log_store("sqlite")
class SQLiteLogStore(LogStore):
    """One SQLite file in WAL mode: readers never block the writer thread."""

    config_class = SQLiteLogStoreConfig

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        # synchronous=NORMAL (open_wal's default) is durable against a crash of the process.
        self._conn = open_wal(self.path, check_same_thread=False)
        with self._conn:
            for statement in _SCHEMA:
                self._conn.execute(statement)

    @classmethod
    def from_config(cls, config: SQLiteLogStoreConfig, settings: Settings) -> SQLiteLogStore:
        return cls(settings.monitoring.resolved_store_path(settings.home))

    def write_predictions(self, rows: Sequence[tuple[Any, ...]]) -> None:
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR IGNORE INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def read_predictions(self, model_name: str | None = None, start: float | None = None,
                         end: float | None = None) -> pd.DataFrame:
        clauses, params = ["1=1"], []
        for clause, value in (("model_name = ?", model_name), ("timestamp >= ?", start),
                              ("timestamp < ?", end)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        sql = (f"SELECT {', '.join(PREDICTION_COLUMNS)} FROM predictions "
               f"WHERE {' AND '.join(clauses)} ORDER BY timestamp, request_id")
        with self._lock:
            cursor = self._conn.execute(sql, params)
            return pd.DataFrame(cursor.fetchall(), columns=PREDICTION_COLUMNS)

    def known_request_ids(self, request_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        ids = list(request_ids)
        with self._lock:
            for i in range(0, len(ids), 900):  # SQLite caps the number of bound parameters
                chunk = ids[i:i + 900]
                marks = ",".join("?" * len(chunk))
                found.update(r[0] for r in self._conn.execute(
                    f"SELECT request_id FROM predictions WHERE request_id IN ({marks})", chunk))
        return found

    def write_labels(self, rows: Sequence[tuple[str, str, float]]) -> None:
        with self._lock, self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO labels VALUES (?, ?, ?)", rows)

    def read_labels(self) -> pd.DataFrame:
        with self._lock:
            cursor = self._conn.execute(f"SELECT {', '.join(LABEL_COLUMNS)} FROM labels")
            return pd.DataFrame(cursor.fetchall(), columns=LABEL_COLUMNS)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


@register_log_store("postgres")
class PostgresLogStore(LogStore):
    """The same tables in PostgreSQL, for a service with several hosts (needs ``psycopg``)."""

    config_class = PostgresLogStoreConfig

    def __init__(self, dsn: SecretStr | str):
        secret = dsn if isinstance(dsn, SecretStr) else SecretStr(dsn)
        try:
            import psycopg  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise ConfigError("the PostgreSQL prediction log needs the psycopg package",
                              field="monitoring.log_store.dsn",
                              fix="pip install -e '.[postgres]' (psycopg) or unset "
                                  "RECSTACK_MONITORING__LOG_STORE__TYPE to use SQLite") from None
        self._lock = threading.Lock()
        try:
            # The only place the DSN is read in clear.
            self._conn = psycopg.connect(secret.get_secret_value(), autocommit=False,
                                         connect_timeout=10)
        except psycopg.Error as exc:
            # `from None` and the redaction: a driver message may quote the DSN, password too.
            raise ConfigError(
                f"cannot reach the PostgreSQL prediction log: {redact(str(exc), secret)}".strip(),
                field="monitoring.log_store.dsn",
                fix="start the server or correct RECSTACK_MONITORING__LOG_STORE__DSN "
                    "(or set RECSTACK_MONITORING__LOG_STORE__TYPE=sqlite)") from None
        with self._conn.cursor() as cur:
            for statement in _SCHEMA:
                cur.execute(statement.replace("REAL", "DOUBLE PRECISION"))
        self._conn.commit()

    @classmethod
    def from_config(cls, config: PostgresLogStoreConfig, settings: Settings) -> PostgresLogStore:
        return cls(config.dsn)

    def _run(self, sql: str, params: Any = None, many: bool = False) -> list[tuple[Any, ...]]:
        with self._lock, self._conn.cursor() as cur:
            if many:
                cur.executemany(sql, params)
            else:
                cur.execute(sql, params)
            rows = cur.fetchall() if cur.description else []
            self._conn.commit()
            return list(rows)

    def write_predictions(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._run("INSERT INTO predictions VALUES (%s, %s, %s, %s, %s, %s, %s) "
                  "ON CONFLICT (request_id) DO NOTHING", rows, many=True)

    def read_predictions(self, model_name: str | None = None, start: float | None = None,
                         end: float | None = None) -> pd.DataFrame:
        clauses, params = ["TRUE"], []
        for clause, value in (("model_name = %s", model_name), ("timestamp >= %s", start),
                              ("timestamp < %s", end)):
            if value is not None:  # an untyped NULL parameter cannot be compared in PostgreSQL
                clauses.append(clause)
                params.append(value)
        rows = self._run(f"SELECT {', '.join(PREDICTION_COLUMNS)} FROM predictions "
                         f"WHERE {' AND '.join(clauses)} ORDER BY timestamp, request_id", params)
        return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)

    def known_request_ids(self, request_ids: Sequence[str]) -> set[str]:
        rows = self._run("SELECT request_id FROM predictions WHERE request_id = ANY(%s)",
                         (list(request_ids),))
        return {r[0] for r in rows}

    def write_labels(self, rows: Sequence[tuple[str, str, float]]) -> None:
        self._run("INSERT INTO labels VALUES (%s, %s, %s) ON CONFLICT (request_id) DO UPDATE "
                  "SET label = EXCLUDED.label, label_time = EXCLUDED.label_time", rows, many=True)

    def read_labels(self) -> pd.DataFrame:
        return pd.DataFrame(self._run(f"SELECT {', '.join(LABEL_COLUMNS)} FROM labels"),
                            columns=LABEL_COLUMNS)


def decode_json_column(values: pd.Series) -> list[Any]:
    """JSON text cells back to Python values."""
    return [json.loads(v) for v in values]
