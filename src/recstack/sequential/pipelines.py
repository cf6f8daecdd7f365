"""Scheduled re-training of the next-item recommender: train → evaluate → promote, per interval.

A run for ``[start, end)`` trains on the events logged before ``end`` (an interactions file with
``user_id``, ``item_id``, ``timestamp``), so a backfill for an old date sees the history that
date had. Promotion compares versions by ``valid_ndcg_at_10``; test numbers come from the
separate evaluate task and choose nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from recstack.errors import DataError
from recstack.pipelines.base import Param, Pipeline, Summary, Task, TaskInput

if TYPE_CHECKING:
    from recstack.settings import Settings

PROMOTE_ON = "valid_ndcg_at_10"
KEYS = ["user_id", "item_id", "timestamp"]


def _events_path(settings: Settings, params: dict[str, Any]) -> Path:
    path = Path(params["events"]) if params["events"] else \
        settings.data_home / "travel" / "events.parquet"
    if not path.is_file():
        raise DataError(f"no events at {path}", field="--param events",
                        fix="generate the travel set (`recstack data generate-travel`) or pass "
                            "--param events=FILE (user_id, item_id, timestamp)")
    return path


def _events(settings: Settings, params: dict[str, Any]) -> pd.DataFrame:
    from recstack.tables import read_table

    events = read_table(_events_path(settings, params), field="--param events")
    missing = [c for c in KEYS if c not in events.columns]
    if missing:
        raise DataError(f"the events have no {missing[0]!r} column", field="--param events",
                        fix="give a table with user_id, item_id and timestamp (epoch seconds)")
    return events[KEYS]


def data_range(settings: Settings, params: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    stamps = _events(settings, dict(params))["timestamp"]
    return (pd.Timestamp(int(stamps.min()), unit="s", tz="UTC"),
            pd.Timestamp(int(stamps.max()), unit="s", tz="UTC"))


def train(settings: Settings, run: TaskInput) -> Summary:
    """Fit on the events before the interval's end; register a version with its valid metrics."""
    from recstack.sequential.pipeline import TrainConfig
    from recstack.sequential.pipeline import train as fit

    events = _events(settings, run.params)
    events = events[events["timestamp"] < run.end_ts.timestamp()]
    path = run.workdir(settings) / "events.parquet"
    events.to_parquet(path, index=False)
    result = fit(TrainConfig(model=run.params["model"], dataset=str(path),
                             register_as=run.params["name"]), settings, progress=False)
    assert result.version is not None
    return {"run_id": result.run_id, "model": result.version.name,
            "version": result.version.version, "n_events": len(events),
            "valid": result.valid.metrics}


def evaluate(settings: Settings, run: TaskInput) -> Summary:
    from recstack.sequential.pipeline import evaluate as score

    trained = run.output("train")
    result = score(f"{trained['model']}/{trained['version']}", settings, progress=False)
    return {"model": trained["model"], "version": trained["version"], "test": result.metrics}


def promote(settings: Settings, run: TaskInput) -> Summary:
    from recstack.pipelines.steps import promote as promote_best

    return promote_best(settings, run.output("train")["model"], PROMOTE_ON)


PIPELINES = [
    Pipeline(
        name="sequential",
        summary="Next-item recommender: re-train on the history so far, test, promote.",
        tasks=(Task("train", train, "events before the interval's end"),
               Task("evaluate", evaluate, "test rows of the new version"),
               Task("promote", promote, f"champion/challenger by {PROMOTE_ON}")),
        params=(Param("events", "", "interactions file; default <home>/data/travel/"
                                    "events.parquet"),
                Param("model", "itemknn", "model type (recstack sequential models)"),
                Param("name", "travel-next-item", "registered model name")),
        schedule="daily", data_range=data_range),
]
