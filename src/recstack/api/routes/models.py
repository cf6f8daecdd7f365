"""Registered model versions, as the registry sees them, each with its kind's metrics."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from recstack.serving import StateDep
from recstack.system import kind_of

router = APIRouter(prefix="/v1/models", tags=["models"])


class ModelVersionResponse(BaseModel):
    name: str
    version: str
    aliases: list[str]
    kind: str | None = Field(description="the model kind (the system that serves it)")
    model_type: str
    metrics: dict[str, str] = Field(description="the metrics this kind reports, from its tags")
    tags: dict[str, str]


@router.get("", response_model=list[ModelVersionResponse])
def list_models(state: StateDep) -> list[ModelVersionResponse]:
    """Every registered version with its aliases, kind, metrics and tags."""
    from recstack.registry.models import ModelRegistry

    kinds = [cache.kind for cache in state.caches.values() if cache.kind is not None]
    rows = []
    for v in ModelRegistry(state.settings).list():
        kind = kind_of(v.tags, kinds)
        rows.append(ModelVersionResponse(
            name=v.name, version=v.version, aliases=v.aliases,
            kind=kind.name if kind else None, model_type=v.model_type,
            metrics=kind.reported_metrics(v.tags) if kind else {}, tags=v.tags))
    return rows
