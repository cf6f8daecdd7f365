"""``POST /v1/features/online`` and ``GET /v1/features/views`` in-process."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from recstack.api.main import create_app
from recstack.features import FeatureStore


@pytest.fixture()
def client(settings, readings, publish_readings):
    frame, stations = readings(15, random_state=5)
    store = FeatureStore(settings)
    publish_readings(store, frame, stations)
    store.materialize(end="2025-07-01")
    with TestClient(create_app(settings)) as client:
        yield client, store, stations


def test_online_features_match_the_library_and_are_logged(client):
    client, store, _ = client
    entities = [{"station_id": "S00002", "sensor": "S"}, {"station_id": "nobody", "sensor": "N"}]
    features = ["station_profile:altitude", "sensor_readings:level"]
    response = client.post("/v1/features/online", json={"entities": entities,
                                                         "features": features,
                                                         "log_as": "api-test"})
    assert response.status_code == 200, response.text
    body = response.json()
    library = store.get_online_features(entities, features)
    assert body["rows"] == library.rows and body["features"] == library.features
    assert body["rows"][1]["altitude"] is None
    assert store.served_vectors("api-test")["values"].tolist() == [
        [r["altitude"], r["level"]] for r in body["rows"]]


def test_views_lists_active_versions(client):
    client, store, _ = client
    body = client.get("/v1/features/views").json()
    assert {v["name"] for v in body} == {"sensor_readings", "station_profile"}
    assert {v["version"] for v in body} == {v.version for v in store.list_views()}


@pytest.mark.parametrize(("payload", "status", "field"), [
    ({"entities": [{"station_id": "S1"}], "features": ["station_profile:nope"]}, 404, "features"),
    ({"entities": [{"station_id": "S1"}], "features": ["sensor_readings:low"]}, 422,
     "entity_rows.0.sensor"),
    ({"entities": [], "features": ["station_profile:altitude"]}, 422, "entities"),
    ({"entities": [{"station_id": "S1"}], "features": ["altitude"]}, 422, "features.0"),
])
def test_errors_name_the_field(client, payload, status, field):
    client, _, _ = client
    response = client.post("/v1/features/online", json=payload)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
