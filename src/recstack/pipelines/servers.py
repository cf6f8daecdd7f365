"""Before a pipeline runs: is every server a settings switch points at reachable?

A scheduled run that fails an hour in because Redis was never started wastes the night; each
configured server is reached once up front, and a missing one is a ConfigError naming the
setting and the command that starts it (docs/deployment.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recstack.errors import ConfigError

if TYPE_CHECKING:
    from recstack.settings import Settings

CONNECT_TIMEOUT_S = 3.0


def check_servers(settings: Settings) -> None:
    """Reach the Redis online store, the PostgreSQL prediction log and the MLflow tracking
    server when the settings configure them, and check that a Spark offline store can start
    (pyspark, Java); embedded stores need nothing."""
    from recstack.features.offline_store import check_offline_engine

    check_offline_engine(settings.features.offline_engine)
    _check_redis(settings)
    _check_postgres(settings)
    _check_mlflow(settings)


def _check_redis(settings: Settings) -> None:
    from recstack.features.config import RedisOnlineStoreConfig

    config = settings.features.online
    if not isinstance(config, RedisOnlineStoreConfig):
        return
    import redis

    client = redis.Redis.from_url(config.url.get_secret_value(),
                                  socket_connect_timeout=CONNECT_TIMEOUT_S)
    try:
        client.ping()
    except redis.RedisError:
        # No exception text: it may quote the URL, password included.
        raise ConfigError("cannot reach the Redis online store",
                          field="RECSTACK_FEATURES__ONLINE__URL",
                          fix="start it (redis-server --port 6379 --daemonize yes), correct the "
                              "URL, or unset RECSTACK_FEATURES__ONLINE__TYPE to use the "
                              "embedded SQLite store") from None
    finally:
        client.close()


def _check_postgres(settings: Settings) -> None:
    if settings.monitoring.log_store.type != "postgres":
        return
    from recstack.monitoring.log import open_store

    store = open_store(settings)  # raises a ConfigError naming the DSN when it is down
    close = getattr(store, "close", None)
    if close is not None:
        close()


def _check_mlflow(settings: Settings) -> None:
    from recstack.registry.tracking import is_tracking_server

    if not is_tracking_server(settings):
        return
    uri = settings.tracking_uri
    import httpx

    try:
        httpx.get(uri.rstrip("/") + "/health", timeout=CONNECT_TIMEOUT_S).raise_for_status()
    except httpx.HTTPError:
        raise ConfigError(f"cannot reach the MLflow tracking server at {uri}",
                          field="RECSTACK_TRACKING__URI",
                          fix="start it (mlflow server --host 127.0.0.1 --port 5000 "
                              "--backend-store-uri sqlite:///mlflow.db), correct the URI, or "
                              "unset RECSTACK_TRACKING__URI to track in SQLite under the "
                              "home") from None
