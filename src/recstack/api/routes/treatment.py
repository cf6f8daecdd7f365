"""Treatment recommendation for one patient."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pandas as pd
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from recstack.api.deps import SettingsDep
from recstack.errors import DataError
from recstack.monitoring.log import PredictionRecord
from recstack.registry.models import ModelRegistry, ModelVersionInfo, parse_model_ref
from recstack.settings import Settings

if TYPE_CHECKING:
    from recstack.treatment.estimator import TreatmentRecommender

router = APIRouter(prefix="/v1/treatment", tags=["treatment"])
DEFAULT_MODEL = "icl-size@champion"


class TreatmentModelCache:
    """Loaded treatment models keyed by version; aliases re-resolved every few seconds."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._resolved: dict[str, tuple[float, ModelVersionInfo]] = {}
        self._models: dict[tuple[str, str], TreatmentRecommender] = {}

    def get(self, ref: str) -> tuple[TreatmentRecommender, ModelVersionInfo]:
        from recstack.treatment.pipeline import load_bundle_dir, require_treatment_model

        with self._lock:
            cached = self._resolved.get(ref)
            if cached is not None and (time.monotonic() - cached[0]
                                       < self.settings.serving.alias_refresh_seconds):
                info = cached[1]
            else:
                info = ModelRegistry(self.settings).resolve(ref)
                self._resolved[ref] = (time.monotonic(), info)
            key = (info.name, info.version)
            if key not in self._models:
                require_treatment_model(info, ref)
                registry = ModelRegistry(self.settings)
                self._models[key] = load_bundle_dir(registry.download(info))[0]
            return self._models[key], info


def _cache(request: Request, settings: Settings) -> TreatmentModelCache:
    # Kept on app.state so that each app (and each test's settings) has its own cache.
    cache = getattr(request.app.state, "treatment_models", None)
    if cache is None:
        cache = request.app.state.treatment_models = TreatmentModelCache(settings)
    return cache


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
    model, info = _cache(http, settings).get(request.model)
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
