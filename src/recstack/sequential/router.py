"""The sequential system's routes: next-item recommendations for a user or an item history."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from recstack.sequential.bundle import Query, Recommendation, RecommenderBundle
from recstack.serving import (
    SHED_RESPONSE,
    ModelRef,
    PredictionLogger,
    PredictionLoggerDep,
    VersionCache,
    limit_concurrency,
    model_cache,
    not_null,
)

router = APIRouter(prefix="/v1/recommendations", tags=["sequential"])
ModelsDep = Annotated[VersionCache[RecommenderBundle], Depends(model_cache("sequential"))]


class RecommendationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"user_id": "u00001", "k": 5},
                     {"history": ["p0001", "p0042"], "k": 5, "filters": {"city": "Osaka"}}],
        # The validator's rule, in the schema (absent fields are None; null is not accepted).
        "anyOf": [{"required": ["user_id"]}, {"required": ["history"]}]})

    # Constraints inside the Annotated: on the union they would leave the schema.
    user_id: Annotated[str, Field(min_length=1, max_length=200)] | SkipJsonSchema[None] = Field(
        None, description="a known user; its stored history is used")
    history: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]],
                       Field(min_length=1, max_length=2000)] | SkipJsonSchema[None] = Field(
        None, description="item ids, oldest first; overrides user_id")
    _not_null = field_validator("user_id", "history", mode="before")(not_null)
    k: int = Field(10, ge=1, le=1000, description="number of items to return")
    exclude_seen: bool = Field(True, description="never return an item from the history")
    filters: dict[str, str] | None = Field(None, description="metadata filters, e.g. city")
    model: ModelRef | None = Field(None, description="NAME, NAME@ALIAS or NAME/VERSION")

    @model_validator(mode="after")
    def _needs_user_or_history(self) -> Self:
        if self.user_id is None and not self.history:
            raise ValueError("give 'user_id' or a non-empty 'history'")
        return self


class RecommendedItem(BaseModel):
    rank: int
    item_id: str
    score: float
    metadata: dict[str, Any]


class ServedModel(BaseModel):
    name: str
    version: str
    alias: str | None
    model_type: str


class RecommendationResponse(BaseModel):
    model: ServedModel
    user_id: str | None
    items: list[RecommendedItem]
    request_id: str | None = Field(None, description="send late labels (clicks) with this id")


class BatchRecommendationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: list[RecommendationRequest] = Field(..., min_length=1, max_length=1000)
    model: ModelRef | None = Field(None, description="one model for the whole batch")


class BatchRecommendationResponse(BaseModel):
    model: ServedModel
    results: list[RecommendationResponse]
    request_id: str | None = Field(None, description="id of the batch; results carry their own")


def _query(request: RecommendationRequest) -> Query:
    return Query(user_id=request.user_id, history=request.history, k=request.k,
                 exclude_seen=request.exclude_seen, filters=request.filters)


def _response(served: ServedModel, user_id: str | None,
              recs: list[Recommendation]) -> RecommendationResponse:
    return RecommendationResponse(
        model=served, user_id=user_id,
        items=[RecommendedItem(rank=i + 1, item_id=r.item_id, score=r.score, metadata=r.metadata)
               for i, r in enumerate(recs)])


def _log(logger: PredictionLogger, info: Any, request: RecommendationRequest,
         response: RecommendationResponse, *, header: bool = True) -> RecommendationResponse:
    """Append the served prediction to the prediction log (durable before the reply leaves)."""
    response.request_id = logger.log(
        info, entity_id=request.user_id, header=header,
        features={"user_id": request.user_id, "history": request.history, "k": request.k,
                  "filters": request.filters},
        output={"items": [i.item_id for i in response.items],
                "scores": [i.score for i in response.items]})
    return response


# Requests in progress per worker before shedding (recstack.serving.limit_concurrency).
@router.post("", response_model=RecommendationResponse, responses=SHED_RESPONSE,
             dependencies=[Depends(limit_concurrency("sequential.recommend", 16))])
def recommend(request: RecommendationRequest, models: ModelsDep,
              logger: PredictionLoggerDep) -> RecommendationResponse:
    """Top-k items from the requested (default: champion) model."""
    bundle, info, alias = models.get(request.model)
    served = ServedModel(name=info.name, version=info.version, alias=alias,
                         model_type=info.model_type)
    recs = bundle.recommend_many([_query(request)])[0]
    return _log(logger, info, request, _response(served, request.user_id, recs))


@router.post("/batch", response_model=BatchRecommendationResponse, responses=SHED_RESPONSE,
             dependencies=[Depends(limit_concurrency("sequential.batch", 2))])
def recommend_batch(batch: BatchRecommendationRequest, models: ModelsDep,
                    logger: PredictionLoggerDep) -> BatchRecommendationResponse:
    """Many users in one forward pass of the model (the batch's ``model``; per-item ignored)."""
    bundle, info, alias = models.get(batch.model)
    served = ServedModel(name=info.name, version=info.version, alias=alias,
                         model_type=info.model_type)
    results = bundle.recommend_many([_query(r) for r in batch.requests])
    response = BatchRecommendationResponse(model=served, request_id=uuid.uuid4().hex, results=[
        _log(logger, info, r, _response(served, r.user_id, recs), header=False)
        for r, recs in zip(batch.requests, results, strict=True)])
    logger.set_request_id(response.request_id or "")
    return response
