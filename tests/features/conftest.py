"""Fixtures of the feature-store tests: online stores of every backend, simulated clinic data."""

from __future__ import annotations

import os
import uuid

import pytest

from recstack.features import (
    RedisOnlineStore,
    RedisOnlineStoreConfig,
    SQLiteOnlineStore,
    SQLiteOnlineStoreConfig,
)

REDIS_URL = os.environ.get("RECSTACK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no redis-server answers at {REDIS_URL} ({exc}); start one and set "
                    "RECSTACK_TEST_REDIS_URL, e.g. redis-server --port 6390 --save '' "
                    "--daemonize yes; RECSTACK_TEST_REDIS_URL=redis://127.0.0.1:6390/15")


@pytest.fixture(params=["sqlite", "redis"])
def online_store(request, tmp_path):
    """Each backend in turn; Redis keys get a fresh prefix so runs never see each other."""
    if request.param == "sqlite":
        store = SQLiteOnlineStore(SQLiteOnlineStoreConfig(path=tmp_path / "online.db"))
        yield store
        store.close()
        return
    _redis_or_skip()
    prefix = f"recstack-test:{uuid.uuid4().hex}"
    store = RedisOnlineStore(RedisOnlineStoreConfig(url=REDIS_URL, key_prefix=prefix))
    yield store
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    store.close()
