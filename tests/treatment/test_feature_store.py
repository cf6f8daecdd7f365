"""The lens-size recommender trained from the feature store and served from its online store."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from recstack.api.main import create_app
from recstack.features.store import FeatureStore
from recstack.monitoring.labels import prediction_frame
from recstack.registry.models import ModelRegistry
from recstack.treatment.feature_views import (
    ICL_VIEW,
    expand_features,
    publish_cohort,
    training_frame,
)
from recstack.treatment.pipeline import FitConfig, feature_refs, fit
from recstack.treatment.simulator import FEATURE_COLUMNS, simulate

FAST = {"n_folds": 3, "max_iter": 60}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    from recstack.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("fs") / "home")
    cohort = simulate(700, policy="nomogram", seed=3)
    store = FeatureStore(settings)
    labels = publish_cohort(store, cohort.factual, seed=3)
    path = settings.home / "labels.csv"
    labels.to_csv(path, index=False)
    yield settings, cohort, store, path
    store.close()


def test_training_frame_uses_the_measurements_taken_before_surgery(published):
    _, cohort, store, path = published
    labels = pd.read_csv(path)
    frame, refs = training_frame(store, labels, expand_features(store, [f"{ICL_VIEW}:*"]))
    assert [r.split(":")[1] for r in refs] == FEATURE_COLUMNS
    assert all(r.startswith(f"{ICL_VIEW}@") for r in refs)  # pinned to a version
    joined = frame.set_index("patient_id").loc[cohort.factual["patient_id"], FEATURE_COLUMNS]
    expected = cohort.factual.set_index("patient_id")[FEATURE_COLUMNS]
    # The follow-up reads ACD 0.6 mm shallower; none of it may reach training.
    pd.testing.assert_frame_equal(joined.astype(float), expected.astype(float))


def test_every_published_patient_has_current_values_for_days_after_publishing(published):
    """The cohort's oldest follow-ups must sit inside the view's one-year TTL with room to
    spare, whatever the hour the cohort is published at (at 365 days some expired the same day
    and serving answered 404 for them)."""
    _, cohort, store, _ = published
    store.materialize(views=[ICL_VIEW])
    refs = [f"{ICL_VIEW}:{c}" for c in FEATURE_COLUMNS]
    later = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=3)
    rows = store.get_online_features(
        [{"patient_id": p} for p in cohort.factual["patient_id"]], refs, at=later).rows
    expired = [r["patient_id"] for r in rows if any(r[c] is None for c in FEATURE_COLUMNS)]
    assert expired == []
    # ...and the TTL is enforced: a year and a half later every value has expired
    stale = store.get_online_features([{"patient_id": cohort.factual["patient_id"].iloc[0]}],
                                      refs, at=later + pd.Timedelta(days=548)).rows[0]
    assert all(stale[c] is None for c in FEATURE_COLUMNS)


def test_label_rows_without_an_earlier_measurement_are_an_error(published):
    from recstack.errors import DataError

    _, _, store, path = published
    labels = pd.read_csv(path)
    labels["event_timestamp"] = "2001-01-01T00:00:00Z"  # before anything was measured
    with pytest.raises(DataError) as caught:
        training_frame(store, labels, [f"{ICL_VIEW}:acd_mm"])
    assert caught.value.field == "store_features"


def test_fit_from_store_then_serve_the_same_features_online(published):
    settings, cohort, store, path = published
    result = fit(FitConfig(data=path, store_features=[f"{ICL_VIEW}:*"], params=FAST), settings)
    assert result.version is not None
    refs = result.version.tags["feature_refs"].split(",")
    assert refs == [r.resolved for r in store.resolve([f"{ICL_VIEW}:{c}"
                                                       for c in FEATURE_COLUMNS])]
    bundle = ModelRegistry(settings).download(result.version)
    from recstack.treatment.pipeline import load_bundle_dir

    assert feature_refs(load_bundle_dir(bundle)[1]) == refs

    store.materialize(views=[ICL_VIEW])
    patient = str(cohort.factual["patient_id"].iloc[5])
    online = store.get_online_features([{"patient_id": patient}], refs).rows[0]
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/treatment/recommend", json={"patient_id": patient})
        assert response.status_code == 200, response.text
        body = response.json()
        expected = result.model.predict(pd.DataFrame([{c: online[c] for c in FEATURE_COLUMNS}]))
        assert [o["prediction"] for o in body["options"]] == pytest.approx(
            expected["prediction"].tolist())
        client.app.state.service.prediction_log.flush()
        logged = prediction_frame(client.app.state.service.prediction_log.store, "icl-size")
        row = logged.set_index("request_id").loc[body["request_id"]]
        assert {c: row[c] for c in FEATURE_COLUMNS} == {c: online[c] for c in FEATURE_COLUMNS}
        assert row["output_feature_refs"] == refs and row["entity_id"] == patient

        unknown = client.post("/v1/treatment/recommend", json={"patient_id": "nobody"})
        assert unknown.status_code == 404 and unknown.json()["field"] == "patient_id"
        both = client.post("/v1/treatment/recommend",
                           json={"patient_id": patient, "features": {"age": 30}})
        assert both.status_code == 422


def test_monitoring_compares_served_store_features_with_the_registered_training_frame(published):
    """Serving reads the follow-up measurement (ACD 0.6 mm shallower): drift on acd_mm."""
    from recstack.monitoring.reference import model_reference
    from recstack.monitoring.runner import MonitorJob, run_monitoring

    settings, cohort, store, path = published
    result = fit(FitConfig(data=path, store_features=[f"{ICL_VIEW}:*"], params=FAST,
                           register_as="icl-monitored"), settings)
    reference = model_reference("icl-monitored@champion", settings)
    assert sorted(reference["acd_mm"]) == sorted(cohort.factual["acd_mm"])  # pre-op values
    assert {"icl_size_mm", "vault_um"} <= set(reference.columns)

    store.materialize(views=[ICL_VIEW])
    with TestClient(create_app(settings)) as client:
        for patient in cohort.factual["patient_id"].iloc[:60]:
            response = client.post("/v1/treatment/recommend",
                                   json={"patient_id": patient, "model": "icl-monitored"})
            assert response.status_code == 200, response.text
        client.app.state.service.prediction_log.flush()
    assert result.version is not None
    job = MonitorJob(model_name="icl-monitored", features=FEATURE_COLUMNS, window="365D",
                     rules=[], domain_classifier=False, estimate=False)
    report = run_monitoring(job, settings, reference=reference, write_report=False)
    assert report.n_predictions == 60 and report.drift is not None
    assert "acd_mm" in report.drift.drifted_columns
