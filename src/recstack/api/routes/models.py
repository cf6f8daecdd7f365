"""Registered model versions, as the registry sees them."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from recstack.api.deps import ModelCacheDep

router = APIRouter(prefix="/v1/models", tags=["models"])


class ModelVersionResponse(BaseModel):
    name: str
    version: str
    aliases: list[str]
    model_type: str
    tags: dict[str, str]


@router.get("", response_model=list[ModelVersionResponse])
def list_models(models: ModelCacheDep) -> list[ModelVersionResponse]:
    """Every registered version with its aliases and metric tags."""
    return [ModelVersionResponse(name=v.name, version=v.version, aliases=v.aliases,
                                 model_type=v.model_type, tags=v.tags)
            for v in models.registry.list()]
