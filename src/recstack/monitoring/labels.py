"""Late labels: ground truth that arrives after the prediction, joined by request id or by entity
and time, and the prediction log as a flat frame."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recstack.errors import DataError
from recstack.monitoring.log import _json_default
from recstack.monitoring.store import LogStore, decode_json_column

logger = logging.getLogger(__name__)
META_COLUMNS = ["request_id", "timestamp", "model_name", "model_version", "entity_id"]


@dataclass
class LabelIngestResult:
    """What happened to a batch of labels."""

    stored: int
    unknown_ids: list[str] = field(default_factory=list)

    def message(self) -> str:
        text = f"{self.stored} labels stored"
        if self.unknown_ids:
            text += (f"; {len(self.unknown_ids)} request ids have no logged prediction and were "
                     f"skipped (first: {', '.join(self.unknown_ids[:5])})")
        return text


def _check_columns(frame: pd.DataFrame, required: list[str], what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"{what} lacks column(s) {', '.join(missing)}", field=missing[0],
                        fix=f"give a frame with columns {', '.join(required)} "
                            f"(found: {', '.join(map(str, frame.columns)) or 'none'})")


def ingest_labels(store: LogStore, labels: pd.DataFrame, *, strict: bool = False
                  ) -> LabelIngestResult:
    """Store labels (``request_id``, ``label``, optional ``label_time`` in epoch seconds).

    Labels whose request id was never logged are skipped and listed in the result; with
    ``strict`` (or when none is known) they raise a :class:`DataError` instead.
    """
    _check_columns(labels, ["request_id", "label"], "the labels")
    if labels["label"].isna().any():
        rows = labels.index[labels["label"].isna()].tolist()[:5]
        raise DataError(f"label is empty in row(s) {rows}", field="label",
                        fix="drop rows whose outcome is not known yet; send them later")
    ids = labels["request_id"].astype(str)
    known = store.known_request_ids(ids.unique().tolist())
    unknown = sorted(set(ids) - known)
    if unknown and (strict or not known):
        raise DataError(f"{len(unknown)} of {ids.nunique()} request ids have no logged "
                        f"prediction (first: {', '.join(unknown[:5])})", field="request_id",
                        fix="send labels for request ids returned by the service; if the "
                            "predictions were just served, retry after the log flushes")
    now = time.time()
    times = (labels["label_time"].astype(float).fillna(now) if "label_time" in labels
             else pd.Series(now, index=labels.index))
    rows = [(rid, json.dumps(value, default=_json_default), float(t))
            for rid, value, t in zip(ids, labels["label"], times, strict=True) if rid in known]
    store.write_labels(rows)
    result = LabelIngestResult(stored=len(rows), unknown_ids=unknown)
    if unknown:
        logger.warning(result.message())
    return result


def join_by_entity(predictions: pd.DataFrame, outcomes: pd.DataFrame, *,
                   entity_column: str = "entity_id", within_s: float = 7 * 86400) -> pd.DataFrame:
    """Give each outcome the request id of the latest prediction for the same entity before it.

    Args:
        predictions: with ``request_id``, ``timestamp`` (epoch s) and ``entity_column``.
        outcomes: with ``entity_column``, ``label`` and ``label_time`` (epoch s); a click or a
            purchase, say.
        within_s: an outcome more than this long after the prediction is not attributed.

    Returns:
        ``request_id, label, label_time`` for the outcomes that found a prediction.
    """
    _check_columns(outcomes, [entity_column, "label", "label_time"], "the outcomes")
    _check_columns(predictions, ["request_id", "timestamp", entity_column], "the predictions")
    left = outcomes.assign(_t=outcomes["label_time"].astype(float),
                           _e=outcomes[entity_column].astype(str)).sort_values("_t")
    right = predictions.assign(_t=predictions["timestamp"].astype(float),
                               _e=predictions[entity_column].astype(str)).sort_values("_t")
    merged = pd.merge_asof(left, right[["_t", "_e", "request_id"]], on="_t", by="_e",
                           direction="backward", tolerance=within_s)  # type: ignore[arg-type]
    merged = merged.dropna(subset=["request_id"])
    return merged[["request_id", "label", "label_time"]].reset_index(drop=True)


def prediction_frame(store: LogStore, model_name: str | None = None, *,
                     start: float | None = None, end: float | None = None,
                     with_labels: bool = False) -> pd.DataFrame:
    """The log as one row per prediction: meta columns, one column per feature, ``output``
    (decoded), ``output_<key>`` for dict outputs, and ``label``/``label_time`` when asked."""
    raw = store.read_predictions(model_name, start, end)
    meta = raw[META_COLUMNS].reset_index(drop=True)
    if raw.empty:
        features = pd.DataFrame()
    else:
        features = pd.DataFrame.from_records(decode_json_column(raw["features"]))
    outputs = decode_json_column(raw["output"])
    frame = pd.concat([meta, features.drop(columns=META_COLUMNS, errors="ignore")], axis=1)
    frame["output"] = pd.Series(outputs, dtype=object)
    if outputs and all(isinstance(o, dict) for o in outputs):
        expanded = pd.DataFrame.from_records(outputs).add_prefix("output_")
        frame = pd.concat([frame, expanded], axis=1)
    if with_labels:
        labels = store.read_labels()
        labels["label"] = pd.Series(decode_json_column(labels["label"]), dtype=object)
        frame = frame.merge(labels, on="request_id", how="left")
    frame["time"] = pd.to_datetime(frame["timestamp"].astype(np.float64), unit="s", utc=True)
    return frame
