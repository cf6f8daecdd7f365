"""What every system's router shares: the service's state, its model caches, the prediction log.

The app (``recstack.api``) builds one :class:`ServiceState` and opens and closes it in its
lifespan; routers reach it only through the dependencies below, so a system's router never
imports the web layer and every model-serving route logs its predictions the same way.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field

from recstack.errors import ConfigError, NotFoundError, RecstackError
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
        self.limiters: dict[str, RouteLimiter] = {}

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


# Dependencies that only read the app's state are ``async def``: FastAPI runs a plain ``def``
# dependency in the thread pool, one hop (and one GIL hand-over) per dependency per request,
# which for a 6 ms model was a measurable part of a request's time. Anything that may block
# (opening the feature store) stays a plain ``def``.

def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


async def get_state(request: Request) -> ServiceState:
    return _state(request)


async def get_settings_dep(request: Request) -> Settings:
    return _state(request).settings


def get_feature_store(request: Request) -> FeatureStore:
    return _state(request).feature_store  # opens the store on first use: not on the loop


def model_cache(kind: str) -> Callable[[Request], Awaitable[VersionCache[Any]]]:
    """A dependency giving the cache of ``kind`` models: ``Depends(model_cache("treatment"))``."""

    async def dependency(request: Request) -> VersionCache[Any]:
        return _state(request).cache(kind)

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

    def log_many(self, info: ModelVersionInfo, rows: list[dict[str, Any]]) -> list[str]:
        """Logs several predictions of one model (a batch route) in one journal write; each
        row holds ``features``, ``output`` and optionally ``entity_id``. Returns their request
        ids, in order; no header is set."""
        from recstack.monitoring.log import PredictionRecord, new_request_ids

        records = [PredictionRecord(model_name=info.name, model_version=info.version,
                                    features=row["features"], output=row["output"],
                                    entity_id=row.get("entity_id"), request_id=request_id)
                   for row, request_id in zip(rows, new_request_ids(len(rows)), strict=True)]
        self._log.log_many(records)
        return [r.request_id for r in records]

    def set_request_id(self, request_id: str) -> None:
        self._response.headers["X-Request-ID"] = request_id


async def get_prediction_logger(request: Request, response: Response) -> PredictionLogger:
    return PredictionLogger(_state(request).prediction_log, response)


# A model reference in a request: what ``parse_model_ref`` accepts, as a schema pattern (ASCII
# digits: a schema's \d also matches other scripts' digits).
MODEL_REF_PATTERN = r"^[A-Za-z0-9_.\-]+(@[A-Za-z0-9_\-]+|/[0-9]+)?$"
ModelRef = Annotated[str, Field(pattern=MODEL_REF_PATTERN, max_length=200,
                                description="NAME, NAME@ALIAS or NAME/VERSION",
                                examples=["icl-size@champion"])]



def not_null(value: Any) -> Any:
    """A ``field_validator(..., mode="before")`` for optional fields the schema shows as not
    nullable (``X | SkipJsonSchema[None] = None``): an explicit null is refused, as the schema
    says; leaving the field out gives None."""
    if value is None:
        raise ValueError("null is not a value here; leave the field out")
    return value


# --- overload: bounded concurrency per route ---------------------------------------------

class Overloaded(RecstackError):
    """A route is at its concurrency limit: answered at once with 503 and ``Retry-After``."""

    status_code = 503

    def __init__(self, message: str, *, field: str | None = None, fix: str | None = None,
                 retry_after: int = 1):
        super().__init__(message, field=field, fix=fix)
        self.headers = {"Retry-After": str(retry_after)}


class RouteLimiter:
    """At most ``limit`` requests of one route in progress in this worker, ``queue`` more
    waiting at most ``wait_s``; any further request is refused at once (:class:`Overloaded`).

    Why not a queue: a synchronous route runs in the server's thread pool, and requests that
    arrive faster than it answers pile up without bound, each waiting longer than the last,
    and fill the pool that every other route needs (issue 17: a treatment burst took
    recommendations' p99 to 77 s). Shedding keeps the answered requests fast and the other
    routes served; the client retries after ``Retry-After`` seconds, or goes elsewhere.

    Lives on the event loop (an ``async`` dependency), so refusing costs no thread.
    """

    def __init__(self, name: str, limit: int, queue: int = 0, wait_s: float = 0.05,
                 retry_after: int = 1):
        if limit < 1 or queue < 0:
            raise ConfigError(f"route {name}: limit {limit}, queue {queue}", field="limit",
                              fix="give limit >= 1 and queue >= 0")
        self.name, self.limit, self.queue = name, limit, queue
        self.wait_s, self.retry_after = wait_s, retry_after
        self.in_flight = 0
        self.waiting = 0
        self.shed = 0
        self._freed: asyncio.Condition | None = None

    def _refuse(self) -> Overloaded:
        self.shed += 1
        return Overloaded(f"{self.name} is at its limit of {self.limit} requests in progress",
                          field="route", fix=f"retry after {self.retry_after} s",
                          retry_after=self.retry_after)

    async def acquire(self) -> None:
        if self.in_flight < self.limit:
            self.in_flight += 1
            return
        if self.waiting >= self.queue:
            raise self._refuse()
        if self._freed is None:  # made on the serving loop, where it is awaited
            self._freed = asyncio.Condition()
        self.waiting += 1
        try:
            async with self._freed:
                await asyncio.wait_for(
                    self._freed.wait_for(lambda: self.in_flight < self.limit), self.wait_s)
                self.in_flight += 1
        except TimeoutError:
            raise self._refuse() from None
        finally:
            self.waiting -= 1

    async def release(self) -> None:
        self.in_flight -= 1
        if self._freed is not None and self.waiting:
            async with self._freed:
                self._freed.notify()


def limit_concurrency(name: str, limit: int, *, queue: int = 0, wait_s: float = 0.05,
                      retry_after: int = 1) -> Callable[[Request], AsyncIterator[None]]:
    """A route dependency: at most ``limit`` of its requests at once per worker, then 503.

    ``@router.post(..., dependencies=[Depends(limit_concurrency("treatment.recommend", 4))],
    responses=SHED_RESPONSE)``. Each app keeps its own counters (in :class:`ServiceState`).
    """

    async def dependency(request: Request) -> AsyncIterator[None]:
        state = _state(request)
        limiter = state.limiters.get(name)
        if limiter is None:
            limiter = state.limiters[name] = RouteLimiter(name, limit, queue, wait_s,
                                                          retry_after)
        await limiter.acquire()
        try:
            yield
        finally:
            await limiter.release()

    return dependency


class ErrorBody(BaseModel):
    """Every error the service answers: what is wrong, the field at fault, how to fix it."""

    error: str = Field(description="the error's kind, e.g. NotFoundError, ValidationError")
    field: str | None = Field(description="the request field (or setting) at fault")
    message: str
    fix: str | None = Field(description="what to do about it")
    problems: list[dict[str, str]] | None = Field(
        None, description="validation errors: one {field, message} per problem")


SHED_RESPONSE: dict[int | str, dict[str, Any]] = {503: {
    "model": ErrorBody,
    "description": "overloaded: the route is at its concurrency limit (retry after "
                   "Retry-After seconds), or this installation lacks the route's extra",
    "headers": {"Retry-After": {"description": "seconds to wait before retrying",
                                "schema": {"type": "integer"}}}}}
# The errors any route of a system can answer; the app adds them to every route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the body is not valid JSON"},
    404: {"model": ErrorBody, "description": "an unknown model, item, user or patient"},
    422: {"model": ErrorBody, "description": "the request does not fit the schema, or its "
                                             "values do not fit the model"},
    **SHED_RESPONSE}


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
StateDep = Annotated[ServiceState, Depends(get_state)]
FeatureStoreDep = Annotated[Any, Depends(get_feature_store)]  # a FeatureStore
PredictionLoggerDep = Annotated[PredictionLogger, Depends(get_prediction_logger)]
