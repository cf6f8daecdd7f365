"""Settings of the feature store (``RECSTACK_FEATURES__*``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FeatureStoreSettings(BaseModel):
    """Where feature definitions and values live."""

    online_backend: str = Field("sqlite", description="online store: 'sqlite' or 'redis'")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="used when backend is redis")
