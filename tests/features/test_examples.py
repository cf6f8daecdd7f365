"""The shipped example definitions apply to the data they describe and read back correctly."""

from __future__ import annotations

import pandas as pd

from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.features import FeatureStore
from recstack.features.examples import TRAVEL_DEFINITIONS, clinic_frames


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


def test_clinic_simulation_has_corrections_and_late_rows():
    measurements, patients = clinic_frames(60, random_state=7)
    visit = ["patient_id", "eye", "measured_at"]
    assert measurements.duplicated(visit).any()  # corrected rows share the visit
    assert (measurements["recorded_at"] - measurements["measured_at"]).max() > pd.Timedelta("1D")
    assert not measurements["measured_at"].is_monotonic_increasing  # arrival is not time order
    assert set(measurements["patient_id"]) <= set(patients["patient_id"])
