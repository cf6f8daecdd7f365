"""The treatment system's routes: a recommendation for one patient, or for a batch.

Both routes run :meth:`TreatmentRecommender.predict`, the code behind ``recstack treatment
predict``, so a patient gets the same numbers from the CLI, one request, or a batch. Each route
has its own concurrency limit per worker (:func:`recstack.serving.limit_concurrency`): beyond it
a request gets 503 with ``Retry-After`` at once instead of waiting in the server's thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from recstack.errors import ConfigError, DataError
from recstack.serving import (
    SHED_RESPONSE,
    ModelRef,
    PredictionLogger,
    PredictionLoggerDep,
    StateDep,
    VersionCache,
    limit_concurrency,
    model_cache,
    not_null,
)

router = APIRouter(prefix="/v1/treatment", tags=["treatment"])
ModelsDep = Annotated[VersionCache[Any], Depends(model_cache("treatment"))]
# Requests in progress per worker. One patient takes a few ms of CPU: 4 at once keep a core busy
# without letting a burst queue. A batch of 1,000 takes about half a second: one at a time.
ONE_LIMIT, BATCH_LIMIT = 4, 1
MAX_BATCH = 1000
FeatureName = Annotated[str, Field(min_length=1, max_length=100)]
FeatureValue = float | int | Annotated[str, Field(max_length=100)]
Features = dict[FeatureName, FeatureValue]
EXAMPLE: dict[str, Any] = {"age": 31, "sphere_d": -8.5, "ata_mm": 11.8, "wtw_mm": 11.6,
                           "acd_mm": 3.2, "lens_thickness_mm": 3.7, "clr_um": 40}


class TreatmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"model": "icl-size@champion", "features": EXAMPLE}],
        # The validator's rule, in the schema: exactly one of the two.
        "oneOf": [{"required": ["features"]}, {"required": ["patient_id"]}]})

    model: ModelRef | None = Field(None, description="NAME, NAME@ALIAS or NAME/VERSION; "
                                                     "default: RECSTACK_TREATMENT__DEFAULT_MODEL")
    # Not nullable (leave a field out instead): the schema's oneOf counts present fields.
    # Constraints inside the Annotated: on the union they would leave the schema.
    features: Annotated[Features, Field(min_length=1)] | SkipJsonSchema[None] = Field(
        None, description="the patient's measurements, one value per feature column")
    patient_id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")] \
        | SkipJsonSchema[None] = Field(
        None, description="read the measurements from the feature store's online store "
                          "(models trained with --store-features)")

    _not_null = field_validator("features", "patient_id", mode="before")(not_null)

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


class BatchTreatmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "model": "icl-size@champion", "patients": [EXAMPLE, {**EXAMPLE, "acd_mm": 2.9}]}]})

    model: ModelRef | None = Field(None, description="one model for the whole batch; default: "
                                                     "RECSTACK_TREATMENT__DEFAULT_MODEL")
    patients: list[Annotated[Features, Field(min_length=1)]] = Field(
        min_length=1, max_length=MAX_BATCH,
        description=f"up to {MAX_BATCH:,} patients' measurements, one value per feature column")


class PatientResult(BaseModel):
    recommended: Any | None = Field(description="the recommended option; null if none is "
                                                "supported by the data")
    note: str
    options: list[OptionResult]
    request_id: str = Field(description="send this patient's measured outcome with this id")


class BatchTreatmentResponse(BaseModel):
    model: str
    version: str
    target: tuple[float, float]
    results: list[PatientResult] = Field(description="one per patient, in request order")


@router.post("/recommend", response_model=TreatmentResponse, responses=SHED_RESPONSE,
             dependencies=[Depends(limit_concurrency("treatment.recommend", ONE_LIMIT))])
def recommend(request: TreatmentRequest, models: ModelsDep, state: StateDep,
              logger: PredictionLoggerDep) -> TreatmentResponse:
    """Every option with its interval (supported) or bounds (unsupported), and the choice."""
    (model, bundle_info), info, _ = models.get(request.model)
    features, refs = _features(request, state, bundle_info)
    [result] = _predict(model, info, [features], logger, entity_ids=[request.patient_id],
                        refs=refs)
    logger.set_request_id(result.request_id)
    return TreatmentResponse(model=info.name, version=info.version,
                             target=(float(model.target[0]), float(model.target[1])),
                             **result.model_dump())


@router.post("/recommend/batch", response_model=BatchTreatmentResponse,
             responses=SHED_RESPONSE,
             dependencies=[Depends(limit_concurrency("treatment.batch", BATCH_LIMIT))])
def recommend_batch(request: BatchTreatmentRequest, models: ModelsDep,
                    logger: PredictionLoggerDep) -> BatchTreatmentResponse:
    """Up to 1,000 patients in one call: for each, what ``/recommend`` answers (each logged
    with its own request id)."""
    (model, _), info, _ = models.get(request.model)
    results = _predict(model, info, [dict(p) for p in request.patients], logger,
                       entity_ids=[None] * len(request.patients), refs=[], index="patients.")
    return BatchTreatmentResponse(model=info.name, version=info.version,
                                  target=(float(model.target[0]), float(model.target[1])),
                                  results=results)


def _predict(model: Any, info: Any, patients: list[dict[str, Any]], logger: PredictionLogger,
             *, entity_ids: list[str | None], refs: list[str], index: str = ""
             ) -> list[PatientResult]:
    """Predict every option for every patient (one ``predict_cells`` call, the arrays behind
    ``predict``'s table) and log each patient."""
    frame = pd.DataFrame(patients)
    try:
        cells = model.predict_cells(frame)
    except DataError as exc:  # name the request field: features.<column>
        where = f"{index}{_row(exc)}." if index else "features."
        raise DataError(exc.message, field=f"{where}{exc.field}" if exc.field else where[:-1],
                        fix=exc.fix) from None
    # Python values, as predict's table gives them through to_dict: tolist() unboxes numpy.
    option_values = np.asarray(model.options_).tolist()
    columns = {name: cells[key].tolist() for name, key in _CELLS}
    names = [name for name, _ in _CELLS]
    rows: list[dict[str, Any]] = []
    results = []
    for i, patient in enumerate(patients):
        options = [OptionResult(option=option, **{name: columns[name][i][k] for name in names})
                   for k, option in enumerate(option_values)]
        chosen = [o.option for o in options if o.recommended]
        rows.append({"entity_id": entity_ids[i],
                     "features": {name: patient.get(name) for name in model.feature_names_},
                     "output": {"recommended": chosen[0] if chosen else None,
                                "options": [o.model_dump() for o in options],
                                "feature_refs": refs}})
        results.append(PatientResult(recommended=chosen[0] if chosen else None,
                                     note=_note(options, chosen), options=options,
                                     request_id=""))
    # One journal write for the whole batch, before the reply leaves.
    for result, request_id in zip(results, logger.log_many(info, rows), strict=True):
        result.request_id = request_id
    return results


# (OptionResult field, predict_cells key)
_CELLS = (("prediction", "prediction"), ("lower", "lower"), ("upper", "upper"),
          ("supported", "supported"), ("propensity", "propensity"),
          ("p_in_target", "p_in"), ("recommended", "recommended"))


def _row(exc: DataError) -> str:
    """The row a DataError's message names ("... at row 3"), else "*"."""
    import re

    found = re.search(r"at row (\d+)", exc.message)
    return found[1] if found else "*"


def _note(options: list[OptionResult], chosen: list[Any]) -> str:
    unsupported = [str(o.option) for o in options if not o.supported]
    return ("no option is supported by the data for this patient; all ranges are bounds"
            if not chosen else
            f"options {', '.join(unsupported)} are not supported by the data: their ranges are "
            "partial-identification bounds, not predictions" if unsupported else
            "every option is supported by the data")


def _features(request: TreatmentRequest, state: Any,
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
    # The feature store opens on the first request that needs it, not on every request.
    return online_features(state.feature_store, request.patient_id, refs), refs


