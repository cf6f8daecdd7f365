"""Monitoring summaries: drift, performance, alerts; late labels in."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from recstack.errors import DataError, NotFoundError
from recstack.serving import SettingsDep, StateDep

router = APIRouter(prefix="/v1/monitoring", tags=["monitoring"])


class LabelItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(..., min_length=1, max_length=200,
                            description="the request_id the service returned")
    label: Any = Field(..., description="the outcome: a number, a class, a clicked item id",
                       json_schema_extra={"not": {"type": "null"}})  # null: "label is empty"
    label_time: float | None = Field(None, description="epoch seconds; default: now")


class LabelsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: list[LabelItem] = Field(..., min_length=1, max_length=100_000)
    strict: bool = Field(False, description="reject the batch if any request id is unknown")


class LabelsResponse(BaseModel):
    stored: int
    unknown_ids: list[str]


@router.get("/summary")
def summary(settings: SettingsDep, model: str | None = None) -> dict[str, Any]:
    """The latest monitoring pass (of ``model`` if given): drift, performance, alerts."""
    from recstack.monitoring.runner import latest_summary

    return latest_summary(settings, model)


@router.post("/labels", response_model=LabelsResponse)
def labels(body: LabelsRequest, state: StateDep) -> LabelsResponse:
    """Late labels for served predictions, joined by request id."""
    import pandas as pd

    from recstack.monitoring.labels import ingest_labels

    log = state.prediction_log
    log.flush()  # a label may follow its prediction within milliseconds
    frame = pd.DataFrame([item.model_dump() for item in body.labels])
    if frame["label_time"].isna().all():
        frame = frame.drop(columns="label_time")
    try:
        result = ingest_labels(log.store, frame, strict=body.strict)
    except DataError as exc:
        if exc.field != "request_id":
            raise
        raise NotFoundError(exc.message, field="labels.request_id", fix=exc.fix) from None
    return LabelsResponse(stored=result.stored, unknown_ids=result.unknown_ids)


@router.get("/alerts")
def alerts(settings: SettingsDep, limit: int = 50) -> list[dict[str, Any]]:
    """Recorded alerts, newest first, with their delivery status."""
    from recstack.monitoring.alerts import AlertManager

    return AlertManager(settings, channels=[]).history()[:limit]
