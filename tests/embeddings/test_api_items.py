"""GET /v1/items/{item_id}/similar in-process, with filters and errors naming the field."""

import pytest
from fastapi.testclient import TestClient

from recstack.api.main import create_app
from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.embeddings.pipeline import EmbeddingTrainConfig, load_bundle, train
from recstack.registry.models import ModelRegistry
from recstack.settings import Settings


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("api") / "home")
    generate_travel(TravelConfig(n_users=150, n_products=100, n_countries=3, seed=4)).write(
        settings.data_home / "travel")
    result = train(EmbeddingTrainConfig(params={"dim": "8", "epochs": "2"}), settings,
                   progress=False)
    ModelRegistry(settings).promote(result.version.name, result.version.version, "champion")
    bundle, _ = load_bundle("travel-similar-items@champion", settings)
    with TestClient(create_app(settings)) as client:
        yield client, bundle


def test_similar_items_of_a_known_item(served):
    client, bundle = served
    item = bundle.items["item_id"].iat[0]
    response = client.get(f"/v1/items/{item}/similar", params={"k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["name"] == "travel-similar-items"
    assert body["model"]["alias"] == "champion" and body["model"]["index"] == "usearch"
    ids = [i["item_id"] for i in body["items"]]
    assert len(ids) == 5 and item not in ids
    assert ids == [s.item_id for s in bundle.similar(item, 5)]
    assert [i["rank"] for i in body["items"]] == [1, 2, 3, 4, 5]


def test_city_and_category_filters(served):
    client, bundle = served
    item = bundle.items["item_id"].iat[1]
    city, category = bundle.items["city"].iat[4], bundle.items["category"].iat[4]
    body = client.get(f"/v1/items/{item}/similar",
                      params={"k": 3, "city": city, "category": category}).json()
    assert body["items"]
    assert all(i["metadata"]["city"] == city and i["metadata"]["category"] == category
               for i in body["items"])


def test_a_city_no_item_is_in_gives_an_empty_list(served):
    client, bundle = served
    response = client.get(f"/v1/items/{bundle.items['item_id'].iat[0]}/similar",
                          params={"city": "Atlantis"})
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize(("path", "params", "status", "field"), [
    ("/v1/items/no-such-item/similar", {}, 404, "item_id"),
    ("/v1/items/{item}/similar", {"k": 0}, 422, "query.k"),
    ("/v1/items/{item}/similar", {"k": "ten"}, 422, "query.k"),
    ("/v1/items/{item}/similar", {"model": "nope@champion"}, 404, "model"),
    ("/v1/items/{item}/similar", {"model": "not a ref!"}, 422, "query.model"),  # the schema
])
def test_bad_requests_get_json_errors_naming_the_field(served, path, params, status, field):
    client, bundle = served
    response = client.get(path.format(item=bundle.items["item_id"].iat[0]), params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field and body["message"] and "Traceback" not in response.text


def test_openapi_documents_the_route(served):
    client, _ = served
    assert "/v1/items/{item_id}/similar" in client.get("/openapi.json").json()["paths"]


def test_every_similar_items_answer_is_logged_for_monitoring(served):
    from recstack.monitoring.labels import prediction_frame

    client, bundle = served
    item = bundle.items["item_id"].iat[2]
    response = client.get(f"/v1/items/{item}/similar", params={"k": 4})
    body = response.json()
    assert response.headers["X-Request-ID"] == body["request_id"]
    log = client.app.state.service.prediction_log
    log.flush()
    logged = prediction_frame(log.store, "travel-similar-items")
    row = logged.set_index("request_id").loc[body["request_id"]]
    assert row["entity_id"] == item
