"""POST /v1/treatment/recommend in-process: one patient, every option, errors as JSON."""

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from recstack.api.main import create_app
from recstack.monitoring.labels import prediction_frame

PATIENT = {"age": 31, "sphere_d": -8.5, "ata_mm": 11.8, "wtw_mm": 11.6, "acd_mm": 3.2,
           "lens_thickness_mm": 3.7, "clr_um": 40}


@pytest.fixture(scope="module")
def client(treatment_home):
    settings, _, _ = treatment_home
    with TestClient(create_app(settings)) as client:
        yield client


def test_recommend_returns_every_option_and_one_supported_choice(client, treatment_home):
    _, _, result = treatment_home
    response = client.post("/v1/treatment/recommend", json={"features": PATIENT})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "icl-size" and body["target"] == [250.0, 750.0]
    options = body["options"]
    assert [o["option"] for o in options] == [12.1, 12.6, 13.2, 13.7]
    chosen = [o for o in options if o["recommended"]]
    assert len(chosen) == 1 and chosen[0]["supported"]
    assert body["recommended"] == chosen[0]["option"]
    expected = result.model.predict(pd.DataFrame([PATIENT]))
    assert [o["supported"] for o in options] == expected["supported"].tolist()
    if not all(o["supported"] for o in options):
        assert "not supported" in body["note"]


def test_recommendation_is_logged_with_the_feature_vector_used(client):
    response = client.post("/v1/treatment/recommend", json={"features": PATIENT})
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["X-Request-ID"] == body["request_id"]
    client.app.state.service.prediction_log.flush()
    logged = prediction_frame(client.app.state.service.prediction_log.store, "icl-size")
    row = logged.set_index("request_id").loc[body["request_id"]]
    assert {name: row[name] for name in PATIENT} == PATIENT
    assert row["output_recommended"] == body["recommended"]


@pytest.mark.parametrize(("payload", "status", "field"), [
    ({"features": {k: v for k, v in PATIENT.items() if k != "acd_mm"}}, 422, "features.acd_mm"),
    ({"features": {**PATIENT, "acd_mm": 32.0}}, 422, "features.acd_mm"),
    ({"features": {**PATIENT, "age": "old"}}, 422, "features.age"),
    ({"features": PATIENT, "model": "nope@champion"}, 404, "model"),
    ({"features": PATIENT, "model": "bad ref!"}, 422, "model"),
    ({"patient": PATIENT}, 422, "patient"),  # unknown field named; features or patient_id
])
def test_bad_input_gets_a_json_error_naming_the_field(client, payload, status, field):
    response = client.post("/v1/treatment/recommend", json=payload)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field and body["message"]
    assert "Traceback" not in response.text
