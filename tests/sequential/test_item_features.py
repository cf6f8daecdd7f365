"""Item metadata read from the feature store: what the store holds is what the model uses."""

from __future__ import annotations

import pandas as pd
import pytest

from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.errors import DataError
from recstack.features import FeatureStore
from recstack.sequential.bundle import Query, RecommenderBundle
from recstack.sequential.item_features import (
    TRAVEL_DEFINITIONS,
    item_metadata_from_store,
    publish_catalogue,
)
from recstack.sequential.pipeline import TrainConfig, train

FEATURES = ["product_metadata:city", "product_metadata:category"]


@pytest.fixture()
def travel_home(settings):
    data = generate_travel(TravelConfig(n_users=200, n_products=120, n_countries=4, seed=2))
    data.write(settings.data_home / "travel")
    return settings, data.products


def test_training_uses_the_store_values_and_records_their_versions(travel_home):
    settings, products = travel_home
    # The store is the single definition: rename one city there and only there.
    renamed = products.assign(city=products["city"].where(products["city"] != "Osaka",
                                                          "Osaka-shi"))
    written = publish_catalogue(renamed, settings)
    assert sum(written.values()) == len(products)
    result = train(TrainConfig(model="popularity", dataset="travel", item_features=FEATURES),
                   settings, progress=False)
    assert result.version is not None
    refs = result.version.tags["item_feature_refs"].split(",")
    assert [r.split(":")[1] for r in refs] == ["city", "category"]
    assert all(r.startswith("product_metadata@") for r in refs)

    bundle: RecommenderBundle = result.bundle
    recs = bundle.recommend_many([Query(history=[str(products["item_id"].iloc[0])], k=5,
                                        filters={"city": "Osaka-shi"})])[0]
    expected = set(renamed.loc[renamed["city"] == "Osaka-shi", "item_id"].astype(str))
    assert recs and {r.item_id for r in recs} <= expected


def test_items_missing_from_the_store_are_an_error_naming_the_option(travel_home):
    settings, products = travel_home
    publish_catalogue(products.iloc[:10], settings)
    with pytest.raises(DataError) as caught:
        item_metadata_from_store(products["item_id"].astype(str).tolist(), FEATURES, settings)
    assert caught.value.field == "item_features"


def test_metadata_frame_is_indexed_like_the_dataset(travel_home):
    settings, products = travel_home
    publish_catalogue(products, settings, updated_at=pd.Timestamp("2026-01-01", tz="UTC"))
    ids = products["item_id"].astype(str).tolist()[::-1]
    frame, refs = item_metadata_from_store(ids, FEATURES, settings)
    assert list(frame.index) == list(range(1, len(ids) + 1))
    by_id = products.set_index(products["item_id"].astype(str))
    assert frame["city"].tolist() == by_id.loc[ids, "city"].tolist()
    assert len(refs) == 2


def test_travel_product_metadata_online_and_offline(settings):
    products = generate_travel(TravelConfig(n_users=50, n_products=80, n_countries=3,
                                            seed=2)).products
    store = FeatureStore(settings)
    store.write_source("travel_products",
                       products.assign(updated_at=pd.Timestamp("2024-01-01", tz="UTC")))
    store.apply(TRAVEL_DEFINITIONS)
    store.materialize(end="2025-01-01")
    ids = products["item_id"].sample(10, random_state=0).tolist()
    features = ["product_metadata:city", "product_metadata:category", "product_metadata:price"]
    online = store.get_online_features(pd.DataFrame({"item_id": ids}), features).to_frame()
    expected = products.set_index("item_id").loc[ids, ["city", "category", "price"]]
    assert online[["city", "category", "price"]].to_numpy().tolist() == \
        expected.to_numpy().tolist()
    offline = store.get_training_frame(
        pd.DataFrame({"item_id": ids, "event_timestamp": "2025-01-01"}), features)
    assert offline["city"].tolist() == online["city"].tolist()
