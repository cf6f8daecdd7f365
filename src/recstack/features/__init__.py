"""Feature store: versioned definitions, point-in-time training frames, the same values online."""

# Imported lazily: recstack.settings imports recstack.features.config, and the store itself
# needs the settings (and DuckDB, pandas) only when used.
from typing import TYPE_CHECKING

from recstack._lazy import lazy_exports

# ruff: noqa: F401 - these imports are the re-exports, for type checkers; ruff cannot read
# the __all__ that lazy_exports computes.
if TYPE_CHECKING:
    from recstack.features.config import (
        FeatureStoreSettings,
        OnlineStoreConfig,
        RedisOnlineStoreConfig,
        SQLiteOnlineStoreConfig,
    )
    from recstack.features.definitions import (
        Definitions,
        Entity,
        Feature,
        FeatureView,
        Source,
        load_definitions,
    )
    from recstack.features.online import (
        OnlineRecord,
        OnlineStore,
        RedisOnlineStore,
        SQLiteOnlineStore,
        online_stores,
        register_online_store,
    )
    from recstack.features.store import FeatureStore, OnlineFeatures, create_online_store

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "config": ["FeatureStoreSettings", "OnlineStoreConfig", "RedisOnlineStoreConfig",
               "SQLiteOnlineStoreConfig"],
    "definitions": ["Definitions", "Entity", "Feature", "FeatureView", "Source",
                    "load_definitions"],
    "online": ["OnlineRecord", "OnlineStore", "RedisOnlineStore", "SQLiteOnlineStore",
               "online_stores", "register_online_store"],
    "catalog": ["FeatureCatalog", "RegisteredView", "ViewChange"],
    "store": ["FeatureStore", "OnlineFeatures", "create_online_store"],
})
