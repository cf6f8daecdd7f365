"""``POST /v1/packages/recommend``: rank package tours for a user's trip planner.

Each planner stop is placed in the company database with the two matching stages (the served
matcher picks one catalogue stop or none, then verifies the pick), and packages are ranked by
their match rate (:mod:`recstack.matching.packages`). Packages come with the request or from
the configured catalogue (``RECSTACK_MATCHING__PACKAGES``). Every stop decision and the ranking
go to the prediction log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from recstack.matching.bundle import MatchBundle
from recstack.matching.package_io import PackageIn, PlannerIn, load_catalogue
from recstack.serving import (
    ModelRef,
    PredictionLoggerDep,
    SettingsDep,
    VersionCache,
    model_cache,
)

router = APIRouter(prefix="/v1/packages", tags=["matching"])
ModelsDep = Annotated[VersionCache[MatchBundle], Depends(model_cache("matching"))]


class RecommendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "planner": {"stops": [{"name": "Busan Station", "lat": 35.115, "lon": 129.041},
                              {"name": "Gyeongju"}]},
        "packages": [{"id": "pkg-1", "title": "부산·경주 2박 3일",
                      "stops": [{"name": "부산역"}, {"name": "경주시"}, {"name": "울산"}]}]}]})

    planner: PlannerIn
    packages: list[PackageIn] | None = Field(
        None, min_length=1, max_length=5_000,
        description="packages to rank; default the configured catalogue")
    top: int = Field(5, ge=1, le=100, strict=True, description="packages returned")
    model: ModelRef | None = Field(None, description="matcher: NAME, NAME@ALIAS or "
                                                     "NAME/VERSION; default "
                                                     "RECSTACK_MATCHING__PACKAGE_MODEL")


class StopMatch(BaseModel):
    planner_stop: int
    package_stop: int
    planner_name: str
    package_name: str
    score: float


class RankedPackage(BaseModel):
    package_id: str
    title: str
    match_rate: float = Field(description="harmonic mean of the two coverages")
    planner_coverage: float = Field(description="share of the planner's stops in the package")
    package_coverage: float = Field(description="share of the package's stops planned")
    matched: list[StopMatch]
    unmatched_planner_stops: list[int]
    unmatched_package_stops: list[int]


class RecommendResponse(BaseModel):
    model: str
    packages: list[RankedPackage]
    unplaced_stops: list[int] = Field(description="planner stops matching no catalogue place")
    request_id: str


@router.post("/recommend", response_model=RecommendResponse)
def recommend(request: RecommendRequest, models: ModelsDep, logger: PredictionLoggerDep,
              settings: SettingsDep) -> RecommendResponse:
    """Packages ranked by how well their itineraries match the planner; every decision logged."""
    from recstack.matching.packages import decision_records, recommend_packages
    from recstack.matching.system import SPEC

    section = SPEC.settings_of(settings)
    packages = ([p.to_package() for p in request.packages] if request.packages is not None
                else load_catalogue(section.packages))
    bundle, info, _ = models.get(request.model or section.package_model)
    planner = [s.to_record() for s in request.planner.stops]
    result = recommend_packages(planner, packages, bundle, bundle, top=request.top,
                                select_threshold=section.package_select_threshold,
                                verify_threshold=0.5)
    *stops, ranking = decision_records(result, len(planner), len(packages))
    for features, output in stops:
        logger.log(info, features=features, output=output, header=False)
    request_id = logger.log(info, features=ranking[0], output=ranking[1])
    unplaced = [d["planner_stop"] for d in result.stop_decisions if not d["verified"]]
    return RecommendResponse(
        model=f"{info.name}/{info.version}", unplaced_stops=unplaced, request_id=request_id,
        packages=[RankedPackage(**{**p.__dict__, "matched": [StopMatch(**m.__dict__)
                                                             for m in p.matched]})
                  for p in result.packages])
