"""Liveness and what is being served."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from recstack import __version__
from recstack.serving import StateDep

router = APIRouter(tags=["health"])


class HealthResponse(BaseModel):
    status: str
    version: str
    default_models: dict[str, str | None] = Field(
        description="model kind → the reference served when a request names no model")


@router.get("/health", response_model=HealthResponse)
def health(state: StateDep) -> HealthResponse:
    """The service is up; names the model each kind serves by default."""
    return HealthResponse(status="ok", version=__version__,
                          default_models={kind: cache.default_ref
                                          for kind, cache in state.caches.items()})
