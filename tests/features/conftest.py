"""Fixtures of the feature-store tests: online stores of every backend, simulated clinic data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from recstack.features import (
    OnlineStore,
    RedisOnlineStore,
    RedisOnlineStoreConfig,
    SQLiteOnlineStore,
    SQLiteOnlineStoreConfig,
    online_stores,
)

REDIS_URL = os.environ.get("RECSTACK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _sqlite_store(tmp_path: Path) -> Iterator[OnlineStore]:
    store = SQLiteOnlineStore(SQLiteOnlineStoreConfig(path=tmp_path / "online.db"))
    yield store
    store.close()


def _redis_store(tmp_path: Path) -> Iterator[OnlineStore]:
    """Keys get a fresh prefix so runs never see each other; skips when no server answers."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no redis-server answers at {REDIS_URL} ({exc}); start one and set "
                    "RECSTACK_TEST_REDIS_URL, e.g. redis-server --port 6390 --save '' "
                    "--daemonize yes; RECSTACK_TEST_REDIS_URL=redis://127.0.0.1:6390/15")
    prefix = f"recstack-test:{uuid.uuid4().hex}"
    store = RedisOnlineStore(RedisOnlineStoreConfig(url=REDIS_URL, key_prefix=prefix))
    yield store
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    store.close()


# One factory per registered backend; test_online checks that none is missing, so a backend
# added to the plugin table cannot skip the contract suite.
ONLINE_STORE_FACTORIES: dict[str, Callable[[Path], Iterator[OnlineStore]]] = {
    "sqlite": _sqlite_store,
    "redis": _redis_store,
}


@pytest.fixture
def online_store_factories() -> dict[str, Callable[[Path], Iterator[OnlineStore]]]:
    return ONLINE_STORE_FACTORIES


@pytest.fixture(params=online_stores())
def online_store(request, tmp_path):
    """Each registered backend in turn; a backend without a factory fails here."""
    factory = ONLINE_STORE_FACTORIES.get(request.param)
    if factory is None:
        pytest.fail(f"online store {request.param!r} is registered but has no factory in "
                    "tests/features/conftest.py: add one so it runs the contract suite")
    yield from factory(tmp_path)
