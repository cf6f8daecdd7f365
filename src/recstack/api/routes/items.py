"""Item-to-item "viewed together" from the embeddings system."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from recstack.api.deps import SettingsDep, VersionCache, app_cache
from recstack.embeddings.bundle import SimilarItemsBundle
from recstack.embeddings.serving import DEFAULT_MODEL_REF, similar_items_cache

router = APIRouter(prefix="/v1/items", tags=["items"])


def _cache(request: Request, settings: SettingsDep) -> VersionCache[SimilarItemsBundle]:
    """One cache per app, created on first use (nothing is loaded at start-up)."""
    return app_cache(request, "similar_items", lambda: similar_items_cache(settings))


class SimilarItemResponse(BaseModel):
    rank: int
    item_id: str
    score: float
    metadata: dict[str, Any]


class SimilarModel(BaseModel):
    name: str
    version: str
    alias: str | None
    model_type: str
    index: str


class SimilarItemsResponse(BaseModel):
    model: SimilarModel
    item_id: str
    items: list[SimilarItemResponse]


@router.get("/{item_id}/similar", response_model=SimilarItemsResponse)
def similar_items(
        item_id: Annotated[str, Path(description="the item being viewed")],
        cache: Annotated[VersionCache[SimilarItemsBundle], Depends(_cache)],
        k: Annotated[int, Query(ge=1, le=500, description="number of items")] = 10,
        city: Annotated[str | None, Query(description="only items in this city")] = None,
        category: Annotated[str | None, Query(description="only this category")] = None,
        model: Annotated[str | None, Query(description="NAME, NAME@ALIAS or NAME/VERSION; "
                                                       f"default {DEFAULT_MODEL_REF}")] = None,
) -> SimilarItemsResponse:
    """Products often viewed together with ``item_id`` (never the item itself)."""
    bundle, info, alias = cache.get(model)
    filters = {name: value for name, value in (("city", city), ("category", category))
               if value is not None}
    found = bundle.similar(item_id, k, filters or None)
    return SimilarItemsResponse(
        model=SimilarModel(name=info.name, version=info.version, alias=alias,
                           model_type=info.model_type, index=str(bundle.info.get("index", ""))),
        item_id=item_id,
        items=[SimilarItemResponse(rank=i + 1, item_id=s.item_id, score=s.score,
                                   metadata=s.metadata) for i, s in enumerate(found)])
