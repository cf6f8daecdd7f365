"""Liveness and what is being served."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from recstack import __version__
from recstack.api.deps import SettingsDep

router = APIRouter(tags=["health"])


class HealthResponse(BaseModel):
    status: str
    version: str
    default_model: str


@router.get("/health", response_model=HealthResponse)
def health(settings: SettingsDep) -> HealthResponse:
    """The service is up; names the model served by default."""
    serving = settings.serving
    return HealthResponse(status="ok", version=__version__,
                          default_model=f"{serving.model}@{serving.alias}")
