"""Treatment recommendation for one patient."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from recstack.api.deps import SettingsDep, VersionCache, app_cache
from recstack.errors import DataError
from recstack.monitoring.log import PredictionRecord
from recstack.registry.models import parse_model_ref
from recstack.settings import Settings

if TYPE_CHECKING:
    from recstack.treatment.estimator import TreatmentRecommender

router = APIRouter(prefix="/v1/treatment", tags=["treatment"])
DEFAULT_MODEL = "icl-size@champion"


def _cache(request: Request, settings: Settings) -> VersionCache[TreatmentRecommender]:
    from recstack.treatment.pipeline import load_bundle_dir, require_treatment_model

    return app_cache(request, "treatment_models", lambda: VersionCache(
        settings, lambda path: load_bundle_dir(path)[0], check=require_treatment_model))


class TreatmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "model": DEFAULT_MODEL, "features": {
            "age": 31, "sphere_d": -8.5, "ata_mm": 11.8, "wtw_mm": 11.6, "acd_mm": 3.2,
            "lens_thickness_mm": 3.7, "clr_um": 40}}]})

    model: str = Field(DEFAULT_MODEL, description="NAME, NAME@ALIAS or NAME/VERSION")
    features: dict[str, float | int | str] = Field(
        ..., description="the patient's measurements, one value per feature column")


class OptionResult(BaseModel):
    option: Any
    prediction: float
    lower: float
    upper: float
    supported: bool
    propensity: float
    p_in_target: float
    recommended: bool


class TreatmentResponse(BaseModel):
    model: str
    version: str
    target: tuple[float, float]
    recommended: Any | None = Field(description="the recommended option; null if none is "
                                                "supported by the data")
    note: str
    options: list[OptionResult]
    request_id: str = Field(description="send the measured outcome later with this id")


@router.post("/recommend", response_model=TreatmentResponse)
def recommend(request: TreatmentRequest, http: Request, reply: Response,
              settings: SettingsDep) -> TreatmentResponse:
    """Every option with its interval (supported) or bounds (unsupported), and the choice."""
    parse_model_ref(request.model)  # a malformed reference is a 422 naming "model"
    model, info, _ = _cache(http, settings).get(request.model)
    try:
        preds = model.predict(pd.DataFrame([request.features]))
    except DataError as exc:  # name the request field: features.<column>
        raise DataError(exc.message, field=f"features.{exc.field}" if exc.field else "features",
                        fix=exc.fix) from None
    options = [OptionResult(**{str(k): _plain(v) for k, v in row.items() if k != "row_id"})
               for row in preds.to_dict(orient="records")]
    chosen = [o.option for o in options if o.recommended]
    unsupported = [str(o.option) for o in options if not o.supported]
    note = ("no option is supported by the data for this patient; all ranges are bounds"
            if not chosen else
            f"options {', '.join(unsupported)} are not supported by the data: their ranges are "
            "partial-identification bounds, not predictions" if unsupported else
            "every option is supported by the data")
    record = PredictionRecord(
        model_name=info.name, model_version=info.version,
        features={name: request.features.get(name) for name in model.feature_names_},
        output={"recommended": chosen[0] if chosen else None,
                "options": [o.model_dump() for o in options]})
    http.app.state.prediction_log.log(record)  # journaled before the reply leaves
    reply.headers["X-Request-ID"] = record.request_id
    return TreatmentResponse(model=info.name, version=info.version,
                             target=(float(model.target[0]), float(model.target[1])),
                             recommended=chosen[0] if chosen else None, note=note,
                             options=options, request_id=record.request_id)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
