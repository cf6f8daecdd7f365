"""Online feature reads from the feature store."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from recstack.serving import FeatureStoreDep

router = APIRouter(prefix="/v1/features", tags=["features"])


# What the feature store parses as a reference (ASCII names), as a schema pattern.
FEATURE_REF_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(@[0-9a-f]+)?:[A-Za-z_][A-Za-z0-9_]*$"


class OnlineFeaturesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "entities": [{"patient_id": "P00001", "eye": "OD"}],
        "features": ["eye_measurements:axial_length", "patient_profile:age"]}]})

    entities: list[dict[str, Any]] = Field(..., min_length=1, max_length=10_000,
                                           description="join keys of each entity")
    features: list[Annotated[str, Field(pattern=FEATURE_REF_PATTERN)]] = Field(
        ..., min_length=1, description="view:feature or view@version:feature")
    full_names: bool = Field(False, description="name values view__feature")
    log_as: str | None = Field(None, max_length=100,
                               description="record the served vectors under this consumer")


class OnlineFeaturesResponse(BaseModel):
    features: list[str] = Field(..., description="resolved references, version included")
    rows: list[dict[str, Any]]


class FeatureViewInfo(BaseModel):
    name: str
    version: str
    active: bool
    join_keys: list[str]
    ttl_seconds: int | None
    features: dict[str, str]


@router.post("/online", response_model=OnlineFeaturesResponse)
def online_features(body: OnlineFeaturesRequest, store: FeatureStoreDep
                    ) -> OnlineFeaturesResponse:
    """The materialised feature values for each entity, in request order (null: none)."""
    result = store.get_online_features(
        body.entities, body.features, full_names=body.full_names, log_as=body.log_as)
    return OnlineFeaturesResponse(features=result.features, rows=result.rows)


@router.get("/views", response_model=list[FeatureViewInfo])
def views(store: FeatureStoreDep, all_versions: bool = False) -> list[FeatureViewInfo]:
    """Registered feature views (active versions unless all_versions)."""
    return [FeatureViewInfo(name=r.name, version=r.version, active=r.active,
                            join_keys=r.join_keys, ttl_seconds=r.view.ttl_seconds,
                            features={f.name: f.dtype for f in r.view.features})
            for r in store.list_views(all_versions=all_versions)]
