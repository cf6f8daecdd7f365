"""Settings of the feature store (``RECSTACK_FEATURES__*``) and the configs of its online stores.

The online store is a discriminated union on ``type``: ``RECSTACK_FEATURES__ONLINE__TYPE=redis``
with ``RECSTACK_FEATURES__ONLINE__URL=redis://…`` picks Redis. The configs live here, not beside
the backends in ``recstack.features.online``, because ``recstack.settings`` imports this module:
it must stay free of redis, DuckDB and the plugin table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator

from recstack.configs import settings_section_input


class SQLiteOnlineStoreConfig(BaseModel):
    """One SQLite file on this host (the default)."""

    # A Redis-only key without type=redis is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    type: Literal["sqlite"] = "sqlite"
    path: Path | None = Field(None, description="SQLite file; default <features home>/online.db")


class RedisOnlineStoreConfig(BaseModel):
    """A Redis server shared by every serving host."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    type: Literal["redis"] = "redis"
    # Secret: a Redis URL may carry a password (redis://:PASSWORD@host:6379/0).
    url: SecretStr = Field(SecretStr("redis://127.0.0.1:6379/0"),
                           description="redis://[:password@]host:port/db")
    key_prefix: str = Field("recstack:features",
                            description="namespace of the online values in Redis")


# Where training frames and materialisation reads run (recstack.features.offline_store).
OfflineEngine = Literal["duckdb", "spark"]

OnlineStoreConfig = Annotated[SQLiteOnlineStoreConfig | RedisOnlineStoreConfig,
                              Field(discriminator="type")]

# Settings of the previous layout, refused so that an old deployment does not silently fall
# back to SQLite.
_RENAMED = {"online_backend": "RECSTACK_FEATURES__ONLINE__TYPE",
            "redis_url": "RECSTACK_FEATURES__ONLINE__URL",
            "redis_key_prefix": "RECSTACK_FEATURES__ONLINE__KEY_PREFIX"}


class FeatureStoreSettings(BaseModel):
    """Where feature definitions and values live."""

    # A validation error must not echo its input: it may hold the Redis password. (Loaded through
    # recstack.settings.Settings, the root model's config decides: it needs the same.)
    model_config = ConfigDict(hide_input_in_errors=True)

    online: OnlineStoreConfig = Field(
        default_factory=SQLiteOnlineStoreConfig,
        description="online store backend, chosen by its 'type': 'sqlite' or 'redis'")
    offline_engine: OfflineEngine = Field(
        "duckdb", description="offline store engine: 'duckdb' (in process, the default) or "
                              "'spark' (PySpark: the active SparkSession, else local[2]; "
                              "extra 'spark' and Java 17+)")
    catalog_refresh_seconds: float = Field(
        5.0, ge=0, description="how long a process trusts its cached copy of the feature catalog "
                               "before re-reading which versions are active",
        # the name before the catalog was renamed (RECSTACK_FEATURES__REGISTRY_REFRESH_SECONDS)
        validation_alias=AliasChoices("catalog_refresh_seconds", "registry_refresh_seconds"))
    home: Path | None = Field(
        None, description="feature catalog, managed sources and the SQLite online store; "
                          "default: <home>/features")

    @model_validator(mode="before")
    @classmethod
    def _check_input(cls, data: Any) -> Any:
        return settings_section_input(data, section="features", renamed=_RENAMED,
                                      unions={"online": "sqlite"})
