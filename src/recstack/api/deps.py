"""Dependencies shared by the routers: settings and the cache of loaded models."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Generic, TypeVar

from fastapi import Depends, Request

from recstack.errors import ConfigError
from recstack.registry.models import ModelRegistry, ModelVersionInfo, parse_model_ref
from recstack.sequential.bundle import RecommenderBundle
from recstack.settings import Settings

if TYPE_CHECKING:
    from recstack.features.store import FeatureStore

T = TypeVar("T")


class VersionCache(Generic[T]):
    """Loaded registered model versions of one kind, keyed by version; aliases re-resolved
    every ``serving.alias_refresh_seconds``.

    Promoting a new champion is picked up without a restart, and a version is downloaded and
    loaded once. ``load`` turns a downloaded artifact folder into the served object; ``check``
    may reject a version of the wrong kind (with a clear error) before it is downloaded.
    """

    def __init__(self, settings: Settings, load: Callable[[Path], T], *,
                 default_ref: str | None = None,
                 check: Callable[[ModelVersionInfo, str], None] | None = None):
        self.settings = settings
        self.default_ref = default_ref
        self._load = load
        self._check = check
        self._lock = threading.Lock()
        self._registry: ModelRegistry | None = None
        self._resolved: dict[str, tuple[float, ModelVersionInfo]] = {}
        self._loaded: dict[tuple[str, str], T] = {}

    @property
    def registry(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = ModelRegistry(self.settings)
        return self._registry

    def get(self, ref: str | None) -> tuple[T, ModelVersionInfo, str | None]:
        """The loaded version ``ref`` names, its registry entry and the alias used (if any)."""
        ref = ref or self.default_ref
        if ref is None:
            raise ConfigError("no model named", field="model", fix="give NAME[@ALIAS]")
        _, alias, _ = parse_model_ref(ref, self.settings.serving.alias)
        with self._lock:
            cached = self._resolved.get(ref)
            max_age = self.settings.serving.alias_refresh_seconds
            if cached is not None and time.monotonic() - cached[0] < max_age:
                info = cached[1]
            else:
                info = self.registry.resolve(ref)
                self._resolved[ref] = (time.monotonic(), info)
            key = (info.name, info.version)
            if key not in self._loaded:
                if self._check is not None:
                    self._check(info, ref)
                self._loaded[key] = self._load(self.registry.download(info))
            return self._loaded[key], info, alias


class ModelCache(VersionCache[RecommenderBundle]):
    """Next-item recommenders; the default is the configured model at the configured alias."""

    def __init__(self, settings: Settings):
        super().__init__(settings, RecommenderBundle.load,
                         default_ref=f"{settings.serving.model}@{settings.serving.alias}")


def app_cache(request: Request, key: str, make: Callable[[], VersionCache[T]]) -> VersionCache[T]:
    """A per-app cache kept on ``app.state`` (each app, and each test's settings, has its own)."""
    cache: VersionCache[T] | None = getattr(request.app.state, key, None)
    if cache is None:
        cache = make()
        setattr(request.app.state, key, cache)
    return cache


def feature_store(request: Request, settings: Settings) -> FeatureStore:
    """One FeatureStore per app: its online-store connection is reused across requests (the
    features router and the treatment router's patient_id lookups share it)."""
    from recstack.features.store import FeatureStore

    store: FeatureStore | None = getattr(request.app.state, "feature_store", None)
    if store is None:
        store = request.app.state.feature_store = FeatureStore(settings)
    return store


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_model_cache(request: Request) -> ModelCache:
    cache: ModelCache = request.app.state.models
    return cache


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ModelCacheDep = Annotated[ModelCache, Depends(get_model_cache)]
