"""``POST /v1/features/online`` and ``GET /v1/features/views`` in-process."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from recstack.api.main import create_app
from recstack.features import FeatureStore
from recstack.features.examples import CLINIC_DEFINITIONS, clinic_frames


@pytest.fixture()
def client(settings):
    measurements, patients = clinic_frames(15, random_state=5)
    store = FeatureStore(settings)
    store.write_source("clinic_measurements", measurements)
    store.write_source("clinic_patients", patients)
    store.apply(CLINIC_DEFINITIONS)
    store.materialize(end="2025-07-01")
    with TestClient(create_app(settings)) as client:
        yield client, store, patients


def test_online_features_match_the_library_and_are_logged(client):
    client, store, _ = client
    entities = [{"patient_id": "P00002", "eye": "OS"}, {"patient_id": "nobody", "eye": "OD"}]
    features = ["patient_profile:age", "eye_measurements:axial_length"]
    response = client.post("/v1/features/online", json={"entities": entities,
                                                         "features": features,
                                                         "log_as": "api-test"})
    assert response.status_code == 200, response.text
    body = response.json()
    library = store.get_online_features(entities, features)
    assert body["rows"] == library.rows and body["features"] == library.features
    assert body["rows"][1]["age"] is None
    assert store.served_vectors("api-test")["values"].tolist() == [
        [r["age"], r["axial_length"]] for r in body["rows"]]


def test_views_lists_active_versions(client):
    client, store, _ = client
    body = client.get("/v1/features/views").json()
    assert {v["name"] for v in body} == {"eye_measurements", "patient_profile"}
    assert {v["version"] for v in body} == {v.version for v in store.list_views()}


@pytest.mark.parametrize(("payload", "status", "field"), [
    ({"entities": [{"patient_id": "P1"}], "features": ["patient_profile:nope"]}, 404, "features"),
    ({"entities": [{"patient_id": "P1"}], "features": ["eye_measurements:k1"]}, 422,
     "entity_rows.0.eye"),
    ({"entities": [], "features": ["patient_profile:age"]}, 422, "entities"),
    ({"entities": [{"patient_id": "P1"}], "features": ["age"]}, 422, "features"),
])
def test_errors_name_the_field(client, payload, status, field):
    client, _, _ = client
    response = client.post("/v1/features/online", json=payload)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
