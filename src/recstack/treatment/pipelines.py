"""The clinic's scheduled lifecycle: materialise → train → evaluate → promote → monitor.

Each run covers one data interval ``[start, end)``. It trains on the surgeries whose vault was
known by ``end`` (follow-up 90 days after surgery) with measurements joined point-in-time from
the feature store, holds out the most recent ``valid_days`` of them, scores the new version, the
champion and the challenger on that same hold-out, and promotes by validation MAE. A backfill
for an old date sees exactly the labels a run on that date would have seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recstack.errors import DataError
from recstack.pipelines.base import Param, Pipeline, Summary, Task, TaskInput
from recstack.treatment.feature_views import FOLLOW_UP_DAYS, ICL_VIEW, LABEL_TIMESTAMP

if TYPE_CHECKING:
    from recstack.settings import Settings
    from recstack.treatment.estimator import TreatmentRecommender

MIN_TRAIN_ROWS = 200  # fewer labelled surgeries than this cannot fill the calibration folds


def _labels_path(settings: Settings, params: dict[str, Any]) -> Path:
    path = Path(params["labels"]) if params["labels"] else \
        settings.data_home / "clinic" / "labels.csv"
    if not path.is_file():
        raise DataError(f"no label table at {path}", field="--param labels",
                        fix="write one with `recstack treatment simulate --to-feature-store "
                            "--out FILE` and pass --param labels=FILE")
    return path


def _known_labels(settings: Settings, run: TaskInput) -> pd.DataFrame:
    """Label rows whose follow-up (the vault) was known by the interval's end."""
    labels = pd.read_csv(_labels_path(settings, run.params))
    labels[LABEL_TIMESTAMP] = pd.to_datetime(labels[LABEL_TIMESTAMP], utc=True)
    known = labels[labels[LABEL_TIMESTAMP] + pd.Timedelta(days=FOLLOW_UP_DAYS) <= run.end_ts]
    return known.sort_values(LABEL_TIMESTAMP, kind="stable")


def _split(settings: Settings, run: TaskInput) -> tuple[pd.DataFrame, pd.DataFrame]:
    known = _known_labels(settings, run)
    cut = known[LABEL_TIMESTAMP].max() - pd.Timedelta(days=run.params["valid_days"])
    train, valid = known[known[LABEL_TIMESTAMP] <= cut], known[known[LABEL_TIMESTAMP] > cut]
    if len(train) < MIN_TRAIN_ROWS or valid.empty:
        raise DataError(f"by {run.end_ts:%Y-%m-%d} only {len(train)} surgeries had a known "
                        f"vault for training and {len(valid)} for validation",
                        field="--date", fix=f"pick a later date (at least {MIN_TRAIN_ROWS} "
                        "follow-ups, plus valid_days of hold-out) or lower valid_days")
    return train, valid


def data_range(settings: Settings, params: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First surgery to last follow-up in the label table."""
    times = pd.to_datetime(pd.read_csv(_labels_path(settings, dict(params)),
                                       usecols=[LABEL_TIMESTAMP])[LABEL_TIMESTAMP], utc=True)
    return times.min(), times.max() + pd.Timedelta(days=FOLLOW_UP_DAYS)


def materialise(settings: Settings, run: TaskInput) -> Summary:
    """Copy the interval's newest measurements to the online store (what serving reads)."""
    from recstack.features.store import FeatureStore

    store = FeatureStore(settings)
    try:
        written = store.materialize(run.start_ts, run.end_ts, views=[ICL_VIEW])
    finally:
        store.close()
    return {"records": written}


def train(settings: Settings, run: TaskInput) -> Summary:
    """Fit on the training labels with point-in-time features; register a version."""
    from recstack.treatment.pipeline import FitConfig, fit

    train_rows, _ = _split(settings, run)
    path = run.workdir(settings) / "train_labels.csv"
    train_rows.to_csv(path, index=False)
    params = {"max_iter": 100, "n_folds": 3} if run.params["quick"] else {}
    result = fit(FitConfig(data=path, register_as=run.params["model"], params=params,
                           store_features=[f"{ICL_VIEW}:*"], random_state=0), settings)
    assert result.version is not None
    return {"run_id": result.run_id, "model": result.version.name,
            "version": result.version.version, "n_train": len(train_rows),
            "kappa_min": result.diagnostics["kappa_min"]}


def evaluate(settings: Settings, run: TaskInput) -> Summary:
    """Score the new version, the champion and the challenger on the same hold-out; tag each
    with ``valid_mae`` and ``valid_coverage`` (what promotion compares)."""
    from recstack.features.store import FeatureStore
    from recstack.registry.models import ModelRegistry
    from recstack.treatment.feature_views import training_frame
    from recstack.treatment.pipeline import feature_refs, load_model

    _, valid = _split(settings, run)
    name = run.output("train")["model"]
    registry = ModelRegistry(settings)
    versions = {run.output("train")["version"]} | {
        v.version for v in registry.list(name) if {"champion", "challenger"} & set(v.aliases)}
    store = FeatureStore(settings)
    scores: dict[str, dict[str, float]] = {}
    try:
        for version in sorted(versions, key=int):
            model, info = load_model(f"{name}/{version}", settings)
            refs = feature_refs(info.tags) or [f"{ICL_VIEW}:{f}" for f in model.feature_names_]
            frame, _ = training_frame(store, valid, refs)
            scores[version] = _score(model, frame)
            for key, value in scores[version].items():
                registry.client.set_model_version_tag(name, version, f"valid_{key}",
                                                      f"{value:.5f}")
    finally:
        store.close()
    return {"model": name, "n_valid": len(valid), "scores": scores}


def _score(model: TreatmentRecommender, frame: pd.DataFrame) -> dict[str, float]:
    """MAE and interval coverage of the vault predicted for the size the surgeon chose."""
    long = model.predict(frame)
    options = np.asarray(model.options_, dtype=float)
    chosen = np.abs(frame[model.treatment].to_numpy(float)[:, None] - options[None, :]).argmin(1)
    rows = long.iloc[np.arange(len(frame)) * len(options) + chosen]
    truth = frame[model.outcome].to_numpy(float)
    inside = (rows["lower"].to_numpy() <= truth) & (truth <= rows["upper"].to_numpy())
    return {"mae": float(np.abs(rows["prediction"].to_numpy() - truth).mean()),
            "coverage": float(inside.mean())}


def promote(settings: Settings, run: TaskInput) -> Summary:
    """Champion and challenger by validation MAE among the versions just scored."""
    from recstack.pipelines.steps import promote as promote_best

    evaluated = run.output("evaluate")
    return promote_best(settings, evaluated["model"], "valid_mae", higher_is_better=False,
                        versions=list(evaluated["scores"]))


def monitor(settings: Settings, run: TaskInput) -> Summary:
    """Drift of the interval's served measurements against the champion's training frame."""
    from recstack.pipelines.steps import monitor as monitoring_pass

    return monitoring_pass(settings, run, run.params["model"], task="regression")


PIPELINES = [
    Pipeline(
        name="treatment",
        summary="Lens size: materialise measurements, re-fit, validate, promote, monitor.",
        tasks=(Task("features", materialise, "materialise icl_measurements for the interval"),
               Task("train", train, "fit on follow-ups known by the interval's end"),
               Task("evaluate", evaluate, "new version, champion, challenger on one hold-out"),
               Task("promote", promote, "champion/challenger by valid_mae"),
               Task("monitor", monitor, "drift of served measurements, alerts")),
        params=(Param("labels", "", "label table (patient_id, event_timestamp, icl_size_mm, "
                                    "vault_um); default <home>/data/clinic/labels.csv"),
                Param("model", "icl-size", "registered model name"),
                Param("valid_days", 30, "most recent days of follow-ups held out"),
                Param("quick", False, "fewer boosting rounds and folds (tests, smoke runs)")),
        schedule="weekly", data_range=data_range),
]
