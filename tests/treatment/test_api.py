"""POST /v1/treatment/recommend in-process: one patient, every option, errors as JSON."""

import numpy as np
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


def test_a_batch_gets_the_numbers_recstack_treatment_predict_writes(client, treatment_home,
                                                                  tmp_path):
    from recstack.treatment.pipeline import predict

    settings, root, result = treatment_home
    frame = pd.read_csv(root / "test.csv")
    patients = frame[result.model.feature_names_].to_dict(orient="records")
    response = client.post("/v1/treatment/recommend/batch",
                           json={"model": "icl-size@champion", "patients": patients})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == len(frame)
    # What `recstack treatment predict --model icl-size@champion --data ... --out ...` writes.
    written = predict("icl-size@champion", root / "test.csv", tmp_path / "out.csv", settings)
    served = pd.DataFrame([o for r in results for o in r["options"]])
    for column in ("option", "prediction", "lower", "upper", "propensity", "p_in_target"):
        np.testing.assert_allclose(served[column], written[column].astype(float), rtol=1e-12)
    for column in ("supported", "recommended"):
        assert served[column].tolist() == written[column].tolist()
    # One patient alone gets the same answer as in the batch (different code paths inside;
    # the ridge term's matrix product, in scikit-learn too, rounds by the number of rows: last
    # bit only).
    one = client.post("/v1/treatment/recommend", json={"features": patients[3]}).json()
    alone, batched = pd.DataFrame(one["options"]), pd.DataFrame(results[3]["options"])
    pd.testing.assert_frame_equal(alone, batched, rtol=1e-12)
    assert one["recommended"] == results[3]["recommended"]
    assert len({r["request_id"] for r in results}) == len(results)  # each patient logged


@pytest.mark.parametrize(("payload", "field"), [
    ({"patients": [PATIENT, {k: v for k, v in PATIENT.items() if k != "acd_mm"}]},
     "patients.1.acd_mm"),
    ({"patients": [PATIENT, {**PATIENT, "acd_mm": 32.0}]}, "patients.1.acd_mm"),
    ({"patients": []}, "patients"),
    ({"patients": [PATIENT] * 1001}, "patients"),
    ({"patients": [{"": 1.0}]}, "patients.0."),
])
def test_a_bad_batch_names_the_patient_and_the_field(client, payload, field):
    response = client.post("/v1/treatment/recommend/batch", json=payload)
    assert response.status_code == 422, response.text
    assert response.json()["field"].startswith(field)
