"""The HTTP API in-process: recommendations, filters, and errors that name the field."""

import pytest
from fastapi.testclient import TestClient

from recstack.api.main import create_app
from recstack.sequential.pipeline import load_bundle


@pytest.fixture(scope="module")
def client(trained_home):
    settings, _ = trained_home
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def bundle(trained_home):
    return load_bundle("travel-next-item@champion", trained_home[0])[0]


def test_health(client):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["default_models"]["sequential"] == "travel-next-item@champion"


def test_recommendations_for_a_known_user_exclude_seen(client, bundle):
    user = next(iter(bundle.histories))
    response = client.post("/v1/recommendations", json={"user_id": user, "k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["alias"] == "champion" and body["model"]["model_type"] == "itemknn"
    items = [i["item_id"] for i in body["items"]]
    assert len(items) == 5 and len(set(items)) == 5
    seen = set(bundle.items.loc[bundle.histories[user], "item_id"])
    assert not seen & set(items)
    assert [i["rank"] for i in body["items"]] == [1, 2, 3, 4, 5]
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert {"city", "category"} <= set(body["items"][0]["metadata"])


def test_history_request_and_metadata_filter(client, bundle):
    history = bundle.items["item_id"].iloc[:3].tolist()
    city = str(bundle.items["city"].iloc[0])
    body = client.post("/v1/recommendations",
                       json={"history": history, "k": 4, "filters": {"city": city}}).json()
    assert body["items"] and all(i["metadata"]["city"] == city for i in body["items"])
    assert not set(history) & {i["item_id"] for i in body["items"]}
    # recstack.filters semantics: case and spaces do not matter; no match is an empty list.
    loose = client.post("/v1/recommendations", json={
        "history": history, "k": 4, "filters": {"city": f" {city.upper()} "}}).json()
    assert [i["item_id"] for i in loose["items"]] == [i["item_id"] for i in body["items"]]
    nowhere = client.post("/v1/recommendations", json={
        "history": history, "k": 4, "filters": {"city": "Atlantis"}})
    assert nowhere.status_code == 200 and nowhere.json()["items"] == []


def test_a_specific_version_can_be_asked_for(client, trained_home):
    _, versions = trained_home
    ref = f"travel-next-item/{versions['popularity'].version}"
    body = client.post("/v1/recommendations", json={"user_id": "x", "history": ["p00001"],
                                                    "model": ref}).json()
    assert body["model"]["model_type"] == "popularity"


@pytest.mark.parametrize(("payload", "status", "field"), [
    ({"user_id": "no-such-user", "k": 5}, 404, "user_id"),
    ({"k": 5}, 422, "body"),
    ({"user_id": "u", "k": 0}, 422, "k"),
    ({"user_id": "u", "k": "ten"}, 422, "k"),
    ({"history": ["not-an-item"]}, 404, "history"),
    ({"history": ["p00001"], "filters": {"planet": "Mars"}}, 422, "filters.planet"),
    ({"user_id": "u", "kk": 3}, 422, "kk"),
    ({"user_id": "u", "model": "nope@champion"}, 404, "model"),
])
def test_bad_input_gets_a_json_error_naming_the_field(client, payload, status, field):
    response = client.post("/v1/recommendations", json=payload)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field and body["message"]
    assert "Traceback" not in response.text


def test_openapi_documents_the_request_schema(client):
    schema = client.get("/openapi.json").json()
    assert "/v1/recommendations" in schema["paths"]
    assert "RecommendationRequest" in schema["components"]["schemas"]


def test_batch_endpoint_matches_single_requests(client, bundle):
    users = list(bundle.histories)[:4]
    requests = [{"user_id": u, "k": 3} for u in users]
    requests[1]["filters"] = {"category": "hotel"}
    requests[2]["exclude_seen"] = False
    body = client.post("/v1/recommendations/batch", json={"requests": requests}).json()
    assert len(body["results"]) == 4
    for request, result in zip(requests, body["results"], strict=True):
        single = client.post("/v1/recommendations", json=request).json()
        assert [i["item_id"] for i in result["items"]] == [i["item_id"] for i in single["items"]]
    assert all(i["metadata"]["category"] == "hotel" for i in body["results"][1]["items"])


def test_batch_errors_name_the_row(client):
    response = client.post("/v1/recommendations/batch",
                           json={"requests": [{"user_id": "u", "k": 1}, {"k": 0}]})
    assert response.status_code == 422
    assert response.json()["field"].startswith("requests.1")
