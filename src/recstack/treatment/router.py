"""The treatment system's routes: a recommendation for one patient."""

from __future__ import annotations

from typing import Annotated, Any, Self

import pandas as pd
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, model_validator

from recstack.errors import ConfigError, DataError
from recstack.registry.models import parse_model_ref
from recstack.serving import FeatureStoreDep, PredictionLoggerDep, VersionCache, model_cache

router = APIRouter(prefix="/v1/treatment", tags=["treatment"])
ModelsDep = Annotated[VersionCache[Any], Depends(model_cache("treatment"))]


class TreatmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "model": "icl-size@champion", "features": {
            "age": 31, "sphere_d": -8.5, "ata_mm": 11.8, "wtw_mm": 11.6, "acd_mm": 3.2,
            "lens_thickness_mm": 3.7, "clr_um": 40}}]})

    model: str | None = Field(None, description="NAME, NAME@ALIAS or NAME/VERSION; default: "
                                                "RECSTACK_TREATMENT__DEFAULT_MODEL")
    features: dict[str, float | int | str] | None = Field(
        None, description="the patient's measurements, one value per feature column")
    patient_id: str | None = Field(
        None, description="read the measurements from the feature store's online store "
                          "(models trained with --store-features)")

    @model_validator(mode="after")
    def _needs_features_or_patient(self) -> Self:
        if (self.features is None) == (self.patient_id is None):
            raise ValueError("give either 'features' or 'patient_id'")
        return self


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
def recommend(request: TreatmentRequest, models: ModelsDep, store: FeatureStoreDep,
              logger: PredictionLoggerDep) -> TreatmentResponse:
    """Every option with its interval (supported) or bounds (unsupported), and the choice."""
    if request.model is not None:
        parse_model_ref(request.model)  # a malformed reference is a 422 naming "model"
    (model, bundle_info), info, _ = models.get(request.model)
    features, refs = _features(request, store, bundle_info)
    try:
        preds = model.predict(pd.DataFrame([features]))
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
    request_id = logger.log(  # journaled before the reply leaves
        info, entity_id=request.patient_id,
        features={name: features.get(name) for name in model.feature_names_},
        output={"recommended": chosen[0] if chosen else None,
                "options": [o.model_dump() for o in options], "feature_refs": refs})
    return TreatmentResponse(model=info.name, version=info.version,
                             target=(float(model.target[0]), float(model.target[1])),
                             recommended=chosen[0] if chosen else None, note=note,
                             options=options, request_id=request_id)


def _features(request: TreatmentRequest, store: Any,
              bundle_info: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The feature vector to predict from, and the feature-store references it came from."""
    if request.features is not None:
        return dict(request.features), []
    from recstack.treatment.feature_views import online_features
    from recstack.treatment.pipeline import feature_refs

    assert request.patient_id is not None  # the validator requires one of the two
    refs = feature_refs(bundle_info)
    if not refs:
        raise ConfigError(f"model {request.model!r} was trained from a table, not from the "
                          "feature store", field="patient_id",
                          fix="send the measurements as 'features', or use a model fitted with "
                              "--store-features")
    return online_features(store, request.patient_id, refs), refs


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
