"""Dependencies shared by the routers: settings and the cache of loaded models."""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import Depends, Request

from recstack.registry.models import ModelRegistry, ModelVersionInfo, parse_model_ref
from recstack.sequential.bundle import RecommenderBundle
from recstack.settings import Settings


class ModelCache:
    """Loaded model versions, keyed by version; aliases re-resolved every few seconds.

    Promoting a new champion is picked up without a restart, and a version is downloaded and
    loaded once.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._registry: ModelRegistry | None = None
        self._resolved: dict[str, tuple[float, ModelVersionInfo]] = {}
        self._bundles: dict[tuple[str, str], RecommenderBundle] = {}

    @property
    def registry(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = ModelRegistry(self.settings)
        return self._registry

    def get(self, ref: str | None) -> tuple[RecommenderBundle, ModelVersionInfo, str | None]:
        ref = ref or f"{self.settings.serving.model}@{self.settings.serving.alias}"
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
            if key not in self._bundles:
                self._bundles[key] = RecommenderBundle.load(self.registry.download(info))
            return self._bundles[key], info, alias


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_model_cache(request: Request) -> ModelCache:
    cache: ModelCache = request.app.state.models
    return cache


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ModelCacheDep = Annotated[ModelCache, Depends(get_model_cache)]
