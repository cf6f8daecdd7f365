"""Settings of the feature store (``RECSTACK_FEATURES__*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class FeatureStoreSettings(BaseModel):
    """Where feature definitions and values live."""

    online_backend: str = Field("sqlite", description="online store: 'sqlite' or 'redis'")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="used when backend is redis")
    redis_key_prefix: str = Field("recstack:features",
                                  description="namespace of the online values in Redis")
    registry_refresh_seconds: float = Field(
        5.0, ge=0, description="how long a process trusts its cached copy of the registry "
                               "before re-reading which versions are active")
    home: Path | None = Field(
        None, description="registry, managed sources and the SQLite online store; "
                          "default: <home>/features")
