"""Online stores: the latest feature values per entity key, for serving.

``OnlineStore`` is the whole interface (write, read, drop, close); backends register under the
``type`` of their pydantic config (``@register_online_store("sqlite")``; the configs are in
``recstack.features.config`` because the settings import them), and every registered backend
runs the contract suite in ``tests/features/test_online.py``.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel

from recstack.errors import ConfigError
from recstack.features.config import RedisOnlineStoreConfig, SQLiteOnlineStoreConfig
from recstack.plugins import PluginTable
from recstack.sqlite import open_wal

NO_CREATED = -(2**62)  # "no created timestamp": older than any real one


class OnlineRecord(NamedTuple):
    """Feature values of one entity in one view version, and the event they come from."""

    values: dict[str, Any]
    event_us: int  # event time, epoch microseconds (UTC)
    created_us: int = NO_CREATED  # created time, epoch microseconds, breaks event-time ties


def entity_key(values: Iterable[Any]) -> str:
    """The store key of an entity: its join-key values as text (1 and "1" are the same key)."""
    return "\x1f".join(str(v) for v in values)


class OnlineStore(ABC):
    """Latest values per (table, entity key); a table is one view version (``name@version``)."""

    config_class: ClassVar[type[BaseModel]]

    @abstractmethod
    def write(self, table: str, records: Iterable[tuple[str, OnlineRecord]]) -> int:
        """Upsert records; a key keeps whichever record has the later (event_us, created_us).

        An equal (event_us, created_us) replaces the stored record. Returns how many records
        were offered.
        """

    @abstractmethod
    def read(self, table: str, keys: Sequence[str]) -> list[OnlineRecord | None]:
        """One entry per key, in input order (duplicates repeated), None when missing."""

    @abstractmethod
    def drop(self, table: str) -> None:
        """Forget every key of ``table``; other tables are untouched."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store is not used afterwards."""


_ONLINE_STORES: PluginTable[type[OnlineStore]] = PluginTable("online store",
                                                              field="features.online.type")


def register_online_store(name: str) -> Callable[[type[OnlineStore]], type[OnlineStore]]:
    """Class decorator: make a backend available under ``name``."""
    def decorate(cls: type[OnlineStore]) -> type[OnlineStore]:
        return _ONLINE_STORES.add(name, cls)
    return decorate


def online_store_class(name: str) -> type[OnlineStore]:
    """The backend registered as ``name``; the error lists the known ones."""
    return _ONLINE_STORES.get(name)


def online_stores() -> list[str]:
    """Names of the registered backends (the contract suite runs each)."""
    return _ONLINE_STORES.names()


@register_online_store("sqlite")
class SQLiteOnlineStore(OnlineStore):
    """One SQLite table keyed by (table, key); WAL so that readers do not wait for writers."""

    config_class = SQLiteOnlineStoreConfig
    _BATCH = 500  # stays under SQLite's limit on bound parameters

    def __init__(self, config: SQLiteOnlineStoreConfig):
        if config.path is None:
            raise ConfigError("the SQLite online store needs a file", field="features.online.path",
                              fix="open it with create_online_store(settings), which defaults "
                                  "to <features home>/online.db, or set a path")
        path: Path = config.path
        self._lock = threading.Lock()
        # One connection shared by the service's worker threads, serialised by the lock.
        self._conn = open_wal(path, check_same_thread=False)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS online (tbl TEXT NOT NULL, key TEXT NOT NULL, "
            "event_us INTEGER NOT NULL, created_us INTEGER NOT NULL, vals TEXT NOT NULL, "
            "PRIMARY KEY (tbl, key)) WITHOUT ROWID")

    def write(self, table: str, records: Iterable[tuple[str, OnlineRecord]]) -> int:
        rows = [(table, key, r.event_us, r.created_us, json.dumps(r.values))
                for key, r in records]
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO online VALUES (?, ?, ?, ?, ?) ON CONFLICT (tbl, key) DO UPDATE SET "
                "event_us = excluded.event_us, created_us = excluded.created_us, "
                "vals = excluded.vals WHERE excluded.event_us > online.event_us OR "
                "(excluded.event_us = online.event_us "
                "AND excluded.created_us >= online.created_us)",
                rows)
        return len(rows)

    def read(self, table: str, keys: Sequence[str]) -> list[OnlineRecord | None]:
        found: dict[str, OnlineRecord] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for i in range(0, len(unique), self._BATCH):
                batch = unique[i:i + self._BATCH]
                marks = ", ".join("?" * len(batch))
                for key, event_us, created_us, vals in self._conn.execute(
                        f"SELECT key, event_us, created_us, vals FROM online "
                        f"WHERE tbl = ? AND key IN ({marks})", [table, *batch]):
                    found[key] = OnlineRecord(json.loads(vals), event_us, created_us)
        return [found.get(key) for key in keys]

    def drop(self, table: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM online WHERE tbl = ?", (table,))

    def close(self) -> None:
        self._conn.close()


# Keep the newer record: compare (event, created) of the stored value with the offered one.
_REDIS_WRITE = """
for i = 1, #KEYS do
  local new = ARGV[i]
  local ne, nc = string.match(new, '^(%-?%d+) (%-?%d+) ')
  local cur = redis.call('GET', KEYS[i])
  local keep = false
  if cur then
    local ce, cc = string.match(cur, '^(%-?%d+) (%-?%d+) ')
    ne, nc, ce, cc = tonumber(ne), tonumber(nc), tonumber(ce), tonumber(cc)
    keep = ce > ne or (ce == ne and cc > nc)
  end
  if not keep then redis.call('SET', KEYS[i], new) end
end
return #KEYS
"""


@register_online_store("redis")
class RedisOnlineStore(OnlineStore):
    """One Redis string per (table, key): ``"<event_us> <created_us> <json values>"``."""

    config_class = RedisOnlineStoreConfig
    _BATCH = 1000

    def __init__(self, config: RedisOnlineStoreConfig):
        import redis

        self._prefix = config.key_prefix
        # The only place the URL (which may hold a password) is read in clear.
        self._client = redis.Redis.from_url(config.url.get_secret_value())
        self._write_script = self._client.register_script(_REDIS_WRITE)

    def _key(self, table: str, key: str) -> str:
        return f"{self._prefix}:{table}:{key}"

    def write(self, table: str, records: Iterable[tuple[str, OnlineRecord]]) -> int:
        items = [(self._key(table, key), f"{r.event_us} {r.created_us} {json.dumps(r.values)}")
                 for key, r in records]
        for i in range(0, len(items), self._BATCH):
            batch = items[i:i + self._BATCH]
            self._write_script(keys=[k for k, _ in batch], args=[v for _, v in batch])
        return len(items)

    def read(self, table: str, keys: Sequence[str]) -> list[OnlineRecord | None]:
        if not keys:
            return []
        raw = self._client.mget([self._key(table, key) for key in keys])
        out: list[OnlineRecord | None] = []
        for value in raw:
            if value is None:
                out.append(None)
                continue
            text = value.decode() if isinstance(value, bytes) else value
            event_us, created_us, vals = text.split(" ", 2)
            out.append(OnlineRecord(json.loads(vals), int(event_us), int(created_us)))
        return out

    def drop(self, table: str) -> None:
        pattern = f"{self._prefix}:{table}:*"
        batch = []
        for key in self._client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                self._client.delete(*batch)
                batch = []
        if batch:
            self._client.delete(*batch)

    def close(self) -> None:
        self._client.close()
