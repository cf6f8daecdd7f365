"""The matching system's route: ``POST /v1/places/match`` for one pair of records."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from recstack.matching.bundle import MatchBundle, monitored_features
from recstack.matching.data import PairSet
from recstack.matching.place import PlaceRecord
from recstack.serving import ModelRef, PredictionLoggerDep, VersionCache, model_cache

router = APIRouter(prefix="/v1/places", tags=["matching"])
ModelsDep = Annotated[VersionCache[MatchBundle], Depends(model_cache("matching"))]


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "left": {"name": "Bellefield Presbyterian Church", "lat": 40.44364, "lon": -79.95673},
        "right": {"name": "Bellefield Presbyterian Church", "lat": 40.4436, "lon": -79.95675,
                  "address": "4001 5th Ave", "postal_code": "15213"}}]})

    left: PlaceRecord
    right: PlaceRecord
    model: ModelRef | None = Field(None, description="NAME, NAME@ALIAS or NAME/VERSION; "
                                                     "default RECSTACK_MATCHING__DEFAULT_MODEL")


class ServedModel(BaseModel):
    name: str
    version: str
    alias: str | None
    model_type: str


class MatchResponse(BaseModel):
    model: ServedModel
    score: float = Field(description="match probability; 0.5 is the decision boundary")
    match: bool
    request_id: str = Field(description="send the reviewed label later with this id")


@router.post("/match", response_model=MatchResponse)
def match(request: MatchRequest, models: ModelsDep,
          logger: PredictionLoggerDep) -> MatchResponse:
    """Whether the two records are the same place; every decision is logged."""
    bundle, info, alias = models.get(request.model)
    pairs = PairSet([request.left.to_record()], [request.right.to_record()])
    score = float(bundle.score(pairs)[0])
    features = {str(k): (None if math.isnan(v) else float(v)) for k, v in
                monitored_features(pairs, bundle.matcher).iloc[0].items()}
    request_id = logger.log(
        info, features={**features, "left_name": request.left.name,
                        "right_name": request.right.name},
        output={"prediction": int(score >= 0.5), "score": score})
    return MatchResponse(model=ServedModel(name=info.name, version=info.version, alias=alias,
                                           model_type=info.model_type),
                         score=score, match=score >= 0.5, request_id=request_id)
