"""Late labels joined by request id or by entity and time; performance per window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recstack.errors import DataError
from recstack.monitoring import (
    PredictionLog,
    PredictionRecord,
    ingest_labels,
    join_by_entity,
    performance_by_window,
    prediction_frame,
    task_frame,
)

DAY = 86400.0


@pytest.fixture()
def regression_log(settings):
    """Ten days of vault predictions: the model is right on days 0–4 and 150 µm off later."""
    rng = np.random.default_rng(0)
    log = PredictionLog(settings)
    truth = {}
    for i in range(200):
        day = i // 20
        vault = float(rng.normal(500, 100))
        error = 20.0 if day < 5 else 150.0
        predicted = vault + error
        rid = log.log(PredictionRecord(
            "icl", "1", {"acd_mm": 3.0 + day / 10}, {"prediction": predicted,
                                                     "lower": predicted - 60,
                                                     "upper": predicted + 60},
            request_id=f"r{i}", timestamp=1.7e9 + day * DAY + i, entity_id=f"p{i}"))
        truth[rid] = vault
    log.close()
    return log.store, truth


def test_labels_by_request_id_give_performance_per_window(regression_log):
    store, truth = regression_log
    labels = pd.DataFrame({"request_id": list(truth), "label": list(truth.values())})
    result = ingest_labels(store, labels.iloc[:160])  # the last two days are not labelled yet
    assert result.stored == 160 and not result.unknown_ids
    frame = task_frame(prediction_frame(store, "icl", with_labels=True), "regression")
    perf = performance_by_window(frame, "regression", freq="1D")
    assert len(perf) == 8 and perf["n_labelled"].tolist() == [20] * 8
    assert perf["mae"].iloc[:5].tolist() == pytest.approx([20.0] * 5)
    assert perf["mae"].iloc[5:].tolist() == pytest.approx([150.0] * 3)
    assert perf["coverage"].iloc[0] == 1.0 and perf["coverage"].iloc[-1] == 0.0


def test_unknown_request_ids_are_reported_or_rejected(regression_log):
    store = regression_log[0]
    mixed = pd.DataFrame({"request_id": ["r1", "ghost-1", "ghost-2"], "label": [1.0, 2.0, 3.0]})
    result = ingest_labels(store, mixed)
    assert result.stored == 1 and result.unknown_ids == ["ghost-1", "ghost-2"]
    assert "ghost-1" in result.message()
    with pytest.raises(DataError, match="no logged prediction") as err:
        ingest_labels(store, mixed, strict=True)
    assert err.value.field == "request_id"
    with pytest.raises(DataError):
        ingest_labels(store, mixed.iloc[1:])  # none known at all


@pytest.mark.parametrize(("labels", "field"), [
    (pd.DataFrame({"request_id": ["r1"]}), "label"),
    (pd.DataFrame({"id": ["r1"], "label": [1.0]}), "request_id"),
    (pd.DataFrame({"request_id": ["r1"], "label": [np.nan]}), "label"),
])
def test_malformed_labels_name_the_field(regression_log, labels, field):
    with pytest.raises(DataError) as err:
        ingest_labels(regression_log[0], labels)
    assert err.value.field == field


def test_clicks_join_by_entity_and_time_for_recommenders(settings):
    log = PredictionLog(settings)
    t0 = 1.7e9
    for user, t, items in [("u1", t0, ["a", "b", "c"]), ("u1", t0 + 100, ["d", "e"]),
                           ("u2", t0, ["x", "y"])]:
        log.log(PredictionRecord("travel", "2", {"history": ["p1"]},
                                 {"items": items, "scores": [1.0] * len(items)},
                                 timestamp=t, entity_id=user))
    log.close()
    predictions = prediction_frame(log.store, "travel")
    clicks = pd.DataFrame({"entity_id": ["u1", "u1", "u2", "u3"], "label": ["b", "e", "z", "a"],
                           "label_time": [t0 + 50, t0 + 150, t0 + 10 * DAY, t0 + 1]})
    joined = join_by_entity(predictions, clicks, within_s=DAY)
    assert len(joined) == 2  # u2 clicked too late, u3 was never served
    ingest_labels(log.store, joined)
    frame = task_frame(prediction_frame(log.store, "travel", with_labels=True), "ranking")
    perf = performance_by_window(frame, "ranking", freq="1D")
    assert perf["n_labelled"].tolist() == [2] and perf["hr_at_10"].iloc[0] == 1.0
    assert perf["ndcg_at_10"].iloc[0] == pytest.approx((1 / np.log2(3) + 1 / np.log2(3)) / 2)


def test_classifier_metrics_and_empty_windows():
    frame = pd.DataFrame({"time": pd.to_datetime([0, 1, 2, 3], unit="D", utc=True),
                          "prediction": ["yes", "no", "yes", "yes"],
                          "label": ["yes", "no", None, "no"]})
    perf = performance_by_window(frame, "classification", freq="1D")
    assert perf["window"].dt.day.tolist() == [1, 2, 4]  # the unlabelled day is omitted
    assert perf["accuracy"].tolist() == [1.0, 1.0, 0.0]
    empty = performance_by_window(frame.iloc[:0], "classification")
    assert empty.empty and "f1" in empty.columns
