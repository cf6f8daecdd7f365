"""What every system's router shares: the service's state, its model caches, the prediction log.

The app (``recstack.api``) builds one :class:`ServiceState` and opens and closes it in its
lifespan; routers reach it only through the dependencies below, so a system's router never
imports the web layer and every model-serving route logs its predictions the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from fastapi import Depends, Request, Response

from recstack.errors import ConfigError, NotFoundError
from recstack.registry.bundles import KIND_TAG
from recstack.registry.models import ModelRegistry, ModelVersionInfo, parse_model_ref
from recstack.settings import Settings
from recstack.system import ModelKind, resolve

if TYPE_CHECKING:
    from recstack.features.store import FeatureStore
    from recstack.monitoring.log import PredictionLog

T = TypeVar("T")


class VersionCache(Generic[T]):
    """Loaded registered versions of one model kind, keyed by version; aliases re-resolved every
    ``serving.alias_refresh_seconds``.

    Promoting a new champion is picked up without a restart, and a version is downloaded and
    loaded once. A version of another kind is refused (with the kind it is) before download.
    """

    def __init__(self, settings: Settings, load: Callable[[Path], T], *,
                 default_ref: str | None = None, kind: ModelKind | None = None):
        self.settings = settings
        self.default_ref = default_ref
        self.kind = kind
        self._load = load
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
                self._check_kind(info, ref)
                self._loaded[key] = self._load(self.registry.download(info))
            return self._loaded[key], info, alias

    def _check_kind(self, info: ModelVersionInfo, ref: str) -> None:
        if self.kind is None or self.kind.matches(info.tags):
            return
        raise NotFoundError(
            f"{ref!r} is a {info.tags.get(KIND_TAG) or info.model_type} model, not a "
            f"{self.kind.name} model", field="model",
            fix=f"name a {self.kind.name} model (see `recstack models list`)")


class ServiceState:
    """The service's open things: settings, prediction log, feature store, model caches, and
    the resources systems declare. Opened and closed once, by the app's lifespan."""

    def __init__(self, settings: Settings, kinds: Iterable[tuple[ModelKind, str | None]],
                 resources: Iterable[tuple[str, str]] = ()):
        from recstack.monitoring.log import PredictionLog

        self.settings = settings
        self.prediction_log: PredictionLog = PredictionLog(settings)  # opens on first use
        self.caches: dict[str, VersionCache[Any]] = {
            kind.name: VersionCache(settings, kind.load, default_ref=default, kind=kind)
            for kind, default in kinds}
        self._factories = list(resources)
        self.resources: dict[str, Any] = {}
        self._feature_store: FeatureStore | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        self.prediction_log.start()
        for name, factory in self._factories:
            self.resources[name] = resolve(factory, field=f"resource {name}")(self.settings)

    def close(self) -> None:
        """Close in reverse order of opening; the prediction log last, so that it drains."""
        for name in reversed(list(self.resources)):
            closer = getattr(self.resources.pop(name), "close", None)
            if closer is not None:
                closer()
        if self._feature_store is not None:
            self._feature_store.close()
            self._feature_store = None
        self.prediction_log.close()

    @property
    def feature_store(self) -> FeatureStore:
        """One FeatureStore per app, opened on first use: its online-store connection is reused
        across requests and closed at shutdown."""
        with self._lock:
            if self._feature_store is None:
                from recstack.features.store import FeatureStore

                self._feature_store = FeatureStore(self.settings)
            return self._feature_store

    def cache(self, kind: str) -> VersionCache[Any]:
        if kind not in self.caches:
            raise NotFoundError(f"no system serves {kind!r} models", field="model",
                                fix=f"served kinds: {', '.join(sorted(self.caches))}")
        return self.caches[kind]


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def get_settings_dep(request: Request) -> Settings:
    return get_state(request).settings


def get_feature_store(request: Request) -> FeatureStore:
    return get_state(request).feature_store


def model_cache(kind: str) -> Callable[[Request], VersionCache[Any]]:
    """A dependency giving the cache of ``kind`` models: ``Depends(model_cache("treatment"))``."""

    def dependency(request: Request) -> VersionCache[Any]:
        return get_state(request).cache(kind)

    return dependency


class PredictionLogger:
    """Logs one served prediction and tells the client its id (``X-Request-ID``).

    Every model-serving route takes this as a dependency, so every system can be monitored;
    the record is journaled before the reply leaves.
    """

    def __init__(self, log: PredictionLog, response: Response):
        self._log = log
        self._response = response

    def log(self, info: ModelVersionInfo, *, features: dict[str, Any], output: dict[str, Any],
            entity_id: str | None = None, header: bool = True) -> str:
        from recstack.monitoring.log import PredictionRecord

        record = PredictionRecord(model_name=info.name, model_version=info.version,
                                  features=features, output=output, entity_id=entity_id)
        self._log.log(record)
        if header:
            self._response.headers["X-Request-ID"] = record.request_id
        return record.request_id

    def set_request_id(self, request_id: str) -> None:
        self._response.headers["X-Request-ID"] = request_id


def get_prediction_logger(request: Request, response: Response) -> PredictionLogger:
    return PredictionLogger(get_state(request).prediction_log, response)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
StateDep = Annotated[ServiceState, Depends(get_state)]
FeatureStoreDep = Annotated[Any, Depends(get_feature_store)]  # a FeatureStore
PredictionLoggerDep = Annotated[PredictionLogger, Depends(get_prediction_logger)]
