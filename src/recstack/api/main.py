"""Builds the FastAPI app: one router per system, errors as JSON that name the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from recstack import __version__
from recstack.api.deps import ModelCache
from recstack.api.routes import (
    features,
    health,
    items,
    models,
    monitoring,
    recommendations,
    treatment,
)
from recstack.errors import RecstackError
from recstack.monitoring.log import PredictionLog
from recstack.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """The recstack service; nothing is loaded until the first request needs it."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every served prediction is logged; shutdown (SIGTERM included) drains the queue.
        app.state.prediction_log.start()
        try:
            yield
        finally:
            app.state.prediction_log.close()

    app = FastAPI(title="recstack", version=__version__, lifespan=lifespan,
                  description="Recommendations that are trained, served, monitored and trusted.")
    app.state.settings = settings
    app.state.prediction_log = PredictionLog(settings)  # opens its store on first use
    app.state.models = ModelCache(settings)
    for module in (health, models, recommendations, items, treatment, features, monitoring):
        app.include_router(module.router)
    app.add_exception_handler(RecstackError, _recstack_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app


async def _recstack_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RecstackError)
    return JSONResponse(status_code=exc.status_code, content=exc.to_dict())


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if p != "body"]
        problems.append({"field": ".".join(loc) or "body", "message": err["msg"]})
    first = problems[0] if problems else {"field": "body", "message": "invalid request"}
    return JSONResponse(status_code=422, content={
        "error": "ValidationError", "field": first["field"],
        "message": "; ".join(f"{p['field']}: {p['message']}" for p in problems),
        "fix": "see the request schema at /docs", "problems": problems})
