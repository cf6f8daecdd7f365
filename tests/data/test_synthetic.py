"""Tests for the synthetic travel-shop generator: contract, determinism and learnable structure."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from recstack.data.dataset import Interactions, SequenceDataset
from recstack.data.synthetic import CATEGORIES, TravelConfig, TravelData, generate_travel
from recstack.errors import ConfigError

SMALL = TravelConfig(n_users=300, n_products=200, n_countries=5, cities_per_country=3, seed=7)
MEDIUM = TravelConfig(n_users=1500, n_products=400, n_countries=8, cities_per_country=3, seed=3)


@pytest.fixture(scope="module")
def small() -> TravelData:
    return generate_travel(SMALL)


@pytest.fixture(scope="module")
def medium() -> TravelData:
    return generate_travel(MEDIUM)


def _with_city(data: TravelData) -> pd.DataFrame:
    return data.events.merge(data.products[["item_id", "city", "category"]], on="item_id",
                             how="left", validate="many_to_one")


def test_same_seed_gives_identical_frames(small: TravelData) -> None:
    again = generate_travel(SMALL)
    for name in ("users", "products", "events", "cities"):
        pd.testing.assert_frame_equal(getattr(small, name), getattr(again, name))


def test_different_seeds_differ(small: TravelData) -> None:
    other = generate_travel(dataclasses.replace(SMALL, seed=8))
    assert not small.events.equals(other.events)
    assert not small.products.equals(other.products)


def test_schema_and_dtypes(small: TravelData) -> None:
    events = small.events
    assert list(events.columns) == ["user_id", "item_id", "timestamp", "session_id"]
    assert events["timestamp"].dtype == np.int64 and events["session_id"].dtype == np.int64
    assert all(isinstance(x, str) for x in events["user_id"].head(50))
    assert all(isinstance(x, str) for x in events["item_id"].head(50))
    products = small.products
    assert {"item_id", "country", "city", "category", "price"} <= set(products.columns)
    assert products["item_id"].is_unique and len(products) == SMALL.n_products
    assert products["price"].dtype == np.int64 and (products["price"] > 0).all()
    assert set(products["category"]) == set(CATEGORIES)
    assert small.users["user_id"].is_unique and len(small.users) == SMALL.n_users
    assert set(small.cities["country"]) == set(products["country"])


def test_every_event_item_and_user_exists(small: TravelData) -> None:
    assert small.events["item_id"].isin(small.products["item_id"]).all()
    assert small.events["user_id"].isin(small.users["user_id"]).all()


def test_timestamps_sorted_and_inside_window(small: TravelData) -> None:
    events = small.events
    same_user = events["user_id"].eq(events["user_id"].shift())
    assert (events["timestamp"].diff()[same_user] >= 0).all()
    start = pd.Timestamp(SMALL.start_date, tz="UTC").timestamp()
    assert events["timestamp"].min() >= start
    assert events["timestamp"].max() < start + SMALL.days * 86400


def test_sessions_follow_the_gap_rule(small: TravelData) -> None:
    events, gap = small.events, SMALL.session_gap_minutes * 60
    same_user = events["user_id"].eq(events["user_id"].shift())
    same_session = events["session_id"].eq(events["session_id"].shift())
    diff = events["timestamp"].diff()
    assert (diff[same_session] < gap).all()
    assert (diff[same_user & ~same_session] >= gap).all()
    assert (events.groupby("session_id")["user_id"].nunique() == 1).all()
    # Sessions are contiguous runs, numbered in time order within a user.
    assert (events["session_id"].diff()[same_user & ~same_session] > 0).all()


def test_to_interactions_and_encoding(small: TravelData) -> None:
    data = small.to_interactions()
    assert isinstance(data, Interactions) and data.name == "travel"
    assert data.n_events == len(small.events)
    dataset = SequenceDataset.from_interactions(data)
    assert dataset.n_users == SMALL.n_users
    assert dataset.item_metadata is not None and "city" in dataset.item_metadata.columns


def test_write_round_trips(small: TravelData, tmp_path) -> None:
    paths = small.write(tmp_path / "travel")
    assert {"events", "products", "users"} <= set(paths)
    assert all(p.exists() for p in paths.values())
    pd.testing.assert_frame_equal(pd.read_parquet(paths["events"]), small.events)
    assert len(pd.read_csv(paths["products"])) == len(small.products)


def _hit_rates(events: pd.DataFrame, k: int = 10) -> tuple[float, float]:
    """HR@k on each user's last click: first-order transitions vs popularity, seen excluded."""
    is_last = events["user_id"].ne(events["user_id"].shift(-1))
    train = events[~is_last]
    nxt = train.groupby("user_id")["item_id"].shift(-1)
    pairs = pd.DataFrame({"prev": train["item_id"], "next": nxt}).dropna()
    counts = pairs.value_counts().reset_index(name="n").sort_values(
        ["prev", "n", "next"], ascending=[True, False, True])
    follow = counts.groupby("prev")["next"].apply(list).to_dict()
    popular = [item for item, _ in Counter(train["item_id"]).most_common()]
    hits = np.zeros(2)
    histories = train.groupby("user_id")["item_id"].apply(list)
    targets = events[is_last].set_index("user_id")["item_id"]
    for user, history in histories.items():
        seen = set(history)
        ranked = {"transition": follow.get(history[-1], []) + popular, "popularity": popular}
        for j, candidates in enumerate(ranked.values()):
            top = list(dict.fromkeys(c for c in candidates if c not in seen))[:k]
            hits[j] += targets[user] in top
    return tuple(hits / len(histories))


def test_transitions_beat_popularity(medium: TravelData) -> None:
    transition, popularity = _hit_rates(medium.events)
    assert transition > popularity + 0.1
    assert transition > 1.5 * popularity


def test_next_click_usually_stays_in_city(medium: TravelData) -> None:
    events = _with_city(medium)
    same_session = events["session_id"].eq(events["session_id"].shift())
    stay = events["city"].eq(events["city"].shift())[same_session].mean()
    chance = (events["city"].value_counts(normalize=True) ** 2).sum()
    assert stay > 0.7 and stay > 4 * chance


def test_category_funnel_follows_flights_with_hotels(medium: TravelData) -> None:
    events = _with_city(medium)
    same_session = events["session_id"].eq(events["session_id"].shift())
    pairs = pd.DataFrame({"prev": events["category"].shift(), "next": events["category"]})
    after_flight = pairs[same_session & pairs["prev"].eq("flight")]["next"].value_counts()
    assert after_flight.index[0] in {"hotel", "flight"}
    assert after_flight.get("hotel", 0) > after_flight.get("restaurant", 0) * 5


def test_trending_cities_grow_over_the_window() -> None:
    config = dataclasses.replace(MEDIUM, n_trending_cities=3, trend_strength=4.0, seasonality=0.0)
    data = generate_travel(config)
    events = _with_city(data)
    trending = events["city"].isin(data.cities.loc[data.cities["trending"], "city"])
    start = pd.Timestamp(config.start_date, tz="UTC").timestamp()
    third = (events["timestamp"] - start) // (config.days * 86400 / 3)
    share = trending.groupby(third.clip(upper=2)).mean()
    assert share[2] > 1.5 * share[0]


def test_session_knobs_set_the_averages(medium: TravelData) -> None:
    events = medium.events
    assert events.groupby("session_id").size().mean() == pytest.approx(
        MEDIUM.mean_session_length, rel=0.1)
    assert events.groupby("user_id")["session_id"].nunique().mean() == pytest.approx(
        MEDIUM.mean_sessions_per_user, rel=0.1)


def test_default_config_generates_quickly() -> None:
    started = time.perf_counter()
    data = generate_travel()
    assert time.perf_counter() - started < 5.0
    assert data.users["user_id"].nunique() == TravelConfig().n_users


def test_subset_of_categories() -> None:
    config = dataclasses.replace(SMALL, categories=("hotel", "tour"), n_products=60)
    data = generate_travel(config)
    assert set(data.products["category"]) == {"hotel", "tour"}
    assert data.events["item_id"].isin(data.products["item_id"]).all()


@pytest.mark.parametrize(("field", "value"), [
    ("n_users", 0), ("n_users", 2.5), ("n_products", 10), ("n_countries", 99),
    ("cities_per_country", 0), ("categories", ("flight", "cruise")), ("categories", ()),
    ("mean_session_length", 0.5), ("start_date", "yesterday"), ("days", 0), ("seed", -1),
    ("noise_share", 1.0), ("continue_prob", 1.5), ("session_gap_minutes", 0),
    ("trend_strength", 0), ("n_trending_cities", 1000), ("popularity_skew", float("nan")),
])
def test_bad_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as excinfo:
        TravelConfig(**{field: value})
    assert excinfo.value.field == field
    assert excinfo.value.fix
