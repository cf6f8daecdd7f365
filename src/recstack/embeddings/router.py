"""The embeddings system's routes: item-to-item "viewed together"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from recstack.embeddings.bundle import SimilarItemsBundle
from recstack.serving import (
    MODEL_REF_PATTERN,
    SHED_RESPONSE,
    PredictionLoggerDep,
    VersionCache,
    limit_concurrency,
    model_cache,
)

router = APIRouter(prefix="/v1/items", tags=["embeddings"])
ModelsDep = Annotated[VersionCache[SimilarItemsBundle], Depends(model_cache("embeddings"))]


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
    request_id: str = Field(description="send late labels (the next view) with this id")


@router.get("/{item_id}/similar", response_model=SimilarItemsResponse, responses=SHED_RESPONSE,
            dependencies=[Depends(limit_concurrency("embeddings.similar", 16))])
def similar_items(
        item_id: Annotated[str, Path(min_length=1, max_length=200,
                                     description="the item being viewed")],
        cache: ModelsDep,
        logger: PredictionLoggerDep,
        k: Annotated[int, Query(ge=1, le=500, description="number of items")] = 10,
        city: Annotated[str | None, Query(description="only items in this city")] = None,
        category: Annotated[str | None, Query(description="only this category")] = None,
        model: Annotated[str | None, Query(pattern=MODEL_REF_PATTERN, max_length=200,
                                           description="NAME, NAME@ALIAS or NAME/VERSION; "
                                                       "default: the configured default "
                                                       "(RECSTACK_EMBEDDINGS__DEFAULT_MODEL)")
                               ] = None,
) -> SimilarItemsResponse:
    """Products often viewed together with ``item_id`` (never the item itself)."""
    bundle, info, alias = cache.get(model)
    filters = {name: value for name, value in (("city", city), ("category", category))
               if value is not None}
    found = bundle.similar(item_id, k, filters or None)
    request_id = logger.log(info, entity_id=item_id,
                            features={"item_id": item_id, "k": k, "filters": filters},
                            output={"items": [s.item_id for s in found],
                                    "scores": [s.score for s in found]})
    return SimilarItemsResponse(
        model=SimilarModel(name=info.name, version=info.version, alias=alias,
                           model_type=info.model_type, index=str(bundle.info.get("index", ""))),
        item_id=item_id,
        items=[SimilarItemResponse(rank=i + 1, item_id=s.item_id, score=s.score,
                                   metadata=s.metadata) for i, s in enumerate(found)],
        request_id=request_id)
