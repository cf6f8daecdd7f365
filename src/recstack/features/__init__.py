"""Feature store: versioned definitions, point-in-time training frames, the same values online."""

# Imported lazily: recstack.settings imports recstack.features.config, and the store itself
# needs the settings (and DuckDB, pandas) only when used.
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recstack.features.catalog import RegisteredView, ViewChange
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
        RedisOnlineStoreConfig,
        SQLiteOnlineStore,
        SQLiteOnlineStoreConfig,
        register_online_store,
    )
    from recstack.features.store import FeatureStore, OnlineFeatures, create_online_store

_WHERE = {
    "Definitions": "recstack.features.definitions",
    "Entity": "recstack.features.definitions",
    "Feature": "recstack.features.definitions",
    "FeatureStore": "recstack.features.store",
    "FeatureView": "recstack.features.definitions",
    "OnlineFeatures": "recstack.features.store",
    "OnlineRecord": "recstack.features.online",
    "OnlineStore": "recstack.features.online",
    "RedisOnlineStore": "recstack.features.online",
    "RedisOnlineStoreConfig": "recstack.features.online",
    "RegisteredView": "recstack.features.catalog",
    "SQLiteOnlineStore": "recstack.features.online",
    "SQLiteOnlineStoreConfig": "recstack.features.online",
    "Source": "recstack.features.definitions",
    "ViewChange": "recstack.features.catalog",
    "create_online_store": "recstack.features.store",
    "load_definitions": "recstack.features.definitions",
    "register_online_store": "recstack.features.online",
}

__all__ = [
    "Definitions",
    "Entity",
    "Feature",
    "FeatureStore",
    "FeatureView",
    "OnlineFeatures",
    "OnlineRecord",
    "OnlineStore",
    "RedisOnlineStore",
    "RedisOnlineStoreConfig",
    "RegisteredView",
    "SQLiteOnlineStore",
    "SQLiteOnlineStoreConfig",
    "Source",
    "ViewChange",
    "create_online_store",
    "load_definitions",
    "register_online_store",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
