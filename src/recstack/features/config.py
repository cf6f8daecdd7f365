"""Settings of the feature store (``RECSTACK_FEATURES__*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field


class FeatureStoreSettings(BaseModel):
    """Where feature definitions and values live."""

    online_backend: str = Field("sqlite", description="online store: 'sqlite' or 'redis'")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="used when backend is redis")
    redis_key_prefix: str = Field("recstack:features",
                                  description="namespace of the online values in Redis")
    catalog_refresh_seconds: float = Field(
        5.0, ge=0, description="how long a process trusts its cached copy of the feature catalog "
                               "before re-reading which versions are active",
        # the name before the catalog was renamed (RECSTACK_FEATURES__REGISTRY_REFRESH_SECONDS)
        validation_alias=AliasChoices("catalog_refresh_seconds", "registry_refresh_seconds"))
    home: Path | None = Field(
        None, description="feature catalog, managed sources and the SQLite online store; "
                          "default: <home>/features")
