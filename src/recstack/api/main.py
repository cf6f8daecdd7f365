"""Builds the FastAPI app: spine routes, then one router per installed system; errors as JSON
that name the field."""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException

from recstack import __version__
from recstack.api.routes import features, health, models, monitoring
from recstack.errors import RecstackError, missing_extra
from recstack.serving import ERROR_RESPONSES, ServiceState
from recstack.settings import Settings, get_settings
from recstack.system import SystemSpec, resolve
from recstack.systems import installed_systems, validate_settings

API_KEY_HEADER = "X-API-Key"
_UNION_TAG = re.compile(r"^(none|constrained-\w+|(list|dict|union|nullable|function-\w+)\[.*\])$")
_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                               description="needed when RECSTACK_SERVING__API_KEY is set")


class Unauthorized(RecstackError):
    """The service needs an API key and the request had none or a wrong one."""

    status_code = 401


async def require_api_key(request: Request,
                          key: str | None = Security(_api_key_header)) -> None:
    """Constant-time check of ``X-API-Key`` against the configured key (off when unset).

    ``async`` because it never blocks: a plain ``def`` dependency would cost every request of
    every route a hop through the thread pool, which under load waits behind the routes' work.
    """
    expected = request.app.state.service.settings.serving.api_key
    if expected is None:
        return
    if key is None or not hmac.compare_digest(key.encode(), expected.get_secret_value().encode()):
        raise Unauthorized("missing or wrong API key", field=API_KEY_HEADER,
                           fix=f"send the service's key in the {API_KEY_HEADER} header")


def create_app(settings: Settings | None = None,
               specs: list[SystemSpec] | None = None) -> FastAPI:
    """The recstack service; models load on the first request that needs them.

    Args:
        settings: default: the process-wide settings.
        specs: the systems to serve; default: every installed system.
    """
    settings = settings or get_settings()
    specs = installed_systems() if specs is None else specs
    validate_settings(settings, specs)
    state = ServiceState(
        settings,
        kinds=[(kind, spec.default_model(settings, kind))
               for spec in specs for kind in spec.model_kinds],
        resources=[(f"{spec.name}.{r.name}", r.factory) for spec in specs for r in spec.resources])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every resource opens here and closes here; shutdown (SIGTERM included) drains the
        # prediction log's queue.
        state.open()
        try:
            yield
        finally:
            state.close()

    app = FastAPI(title="recstack", version=__version__, lifespan=lifespan,
                  description="Recommendations that are trained, served, monitored and trusted."
                              "\n\n" + "\n".join(f"- **{s.name}**: {s.summary}" for s in specs))
    app.state.service = state
    app.include_router(health.router)  # liveness stays open without a key
    protected = [Depends(require_api_key)]
    unauthorized: dict[int | str, dict[str, Any]] = {
        401: {"description": "missing or wrong X-API-Key (when a key is set)"},
        **ERROR_RESPONSES}
    for router in (models.router, features.router, monitoring.router):
        app.include_router(router, dependencies=protected, responses=unauthorized)
    for spec in specs:
        if spec.router is not None:
            app.include_router(resolve(spec.router, field=f"{spec.name}: router"),
                               dependencies=protected, responses=unauthorized)
    app.add_exception_handler(RecstackError, _recstack_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ModuleNotFoundError, _missing_module)
    return app


async def _missing_module(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ModuleNotFoundError)
    error = missing_extra(exc)
    if error is None:
        raise exc
    # The route exists but this installation cannot serve it.
    return JSONResponse(status_code=503, content=error.to_dict())


async def _recstack_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RecstackError)
    return JSONResponse(status_code=exc.status_code, content=exc.to_dict(),
                        headers=getattr(exc, "headers", None))  # Retry-After when shedding


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette's own errors (an unparsable body, an unknown path) in the documented error shape.
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(status_code=exc.status_code, headers=exc.headers, content={
        "error": "HTTPError", "field": "body" if exc.status_code == 400 else None,
        "message": str(exc.detail), "fix": "see the OpenAPI document at /docs"})


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    errors = exc.errors()
    # An optional field's union reports each branch: drop the null branch's "Input should be
    # None" and the branch names ("constrained-str"), which are no field of the request.
    tagged = [e for e in errors if "none" not in e["loc"]] or errors
    for err in tagged:
        loc = [str(p) for p in err["loc"] if p != "body" and not _UNION_TAG.match(str(p))]
        problems.append({"field": ".".join(loc) or "body", "message": err["msg"]})
    first = problems[0] if problems else {"field": "body", "message": "invalid request"}
    return JSONResponse(status_code=422, content={
        "error": "ValidationError", "field": first["field"],
        "message": "; ".join(f"{p['field']}: {p['message']}" for p in problems),
        "fix": "see the request schema at /docs", "problems": problems})
