"""Pair features: what each similarity says on hand-made pairs, and NaN where nothing is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recstack.matching.data import PairSet, Record
from recstack.matching.features import PairFeaturizer, haversine_m

CHURCH = Record("Bellefield Presbyterian Church", 40.44364, -79.95672)
CHURCH_FSQ = Record("Bellefield Presbyterian Church", 40.44360, -79.95675,
                    "4001 5th Ave, Thackery St", "15213")
STATION = Record("Carnegie Station", 40.40590, -80.09090, postal_code="15106")
SEVEN_A = Record("7-Eleven 123", attributes={"price": "10"})
SEVEN_B = Record("7-Eleven 456", attributes={"price": "12.5"})


@pytest.fixture(scope="module")
def featurizer() -> PairFeaturizer:
    train = PairSet([CHURCH, STATION, SEVEN_A], [CHURCH_FSQ, CHURCH, SEVEN_B],
                    np.array([1, 0, 0]))
    return PairFeaturizer().fit(train)


def test_same_place_scores_high_and_near(featurizer):
    row = featurizer.transform(PairSet([CHURCH], [CHURCH_FSQ])).iloc[0]
    for column in ("name_ratio", "name_token_set", "name_jaro_winkler", "name_jaccard",
                   "name_word_tfidf", "name_char_tfidf"):
        assert row[column] == pytest.approx(1.0, abs=1e-5), column
    assert row["distance_m"] == pytest.approx(
        haversine_m(np.array([40.44364]), np.array([-79.95672]), np.array([40.4436]),
                    np.array([-79.95675]))[0])
    assert 3 < row["distance_m"] < 8
    assert math.isnan(row["address_ratio"])  # only one side has an address
    assert math.isnan(row["postal_equal"])


def test_different_places_and_unknowns(featurizer):
    frame = featurizer.transform(PairSet([STATION, SEVEN_A, Record("Bellefield Church")],
                                         [CHURCH_FSQ, SEVEN_B, CHURCH]))
    station, seven, unlocated = frame.iloc[0], frame.iloc[1], frame.iloc[2]
    assert station["name_token_set"] < 0.5 and station["distance_m"] > 10_000
    # 15106 vs 15213: "15" of 5 characters shared.
    assert station["postal_equal"] == 0.0 and station["postal_prefix"] == pytest.approx(0.4)
    # Same brand, other shop number: the names look alike but only the brand's 7 is shared.
    assert seven["name_ratio"] > 0.7 and seven["name_numbers"] == pytest.approx(1 / 3)
    assert seven["attr_price_relative_difference"] == pytest.approx(2.5 / 12.5)
    assert math.isnan(unlocated["distance_m"]) and math.isnan(unlocated["log_distance"])
    assert unlocated["name_containment"] == 1.0  # every word of the shorter name is shared


def test_columns_are_fixed_by_fit(featurizer):
    frame = featurizer.transform(PairSet([CHURCH], [STATION]))
    assert list(frame.columns) == featurizer.feature_names_
    assert "attr_price_ratio" in frame.columns  # a non-place attribute seen in training


def test_an_extra_distinctive_word_and_chain_names_are_visible():
    pool = Record("Pool @ Martin Place Residences", 1.2905, 103.8365)
    residences = Record("Martin Place Residences", 1.2906, 103.8366)
    subway = [Record("Subway", 1.30 + i / 100, 103.85) for i in range(4)]
    train = PairSet([residences, *subway[:2]], [Record("Martin Residences"), *subway[2:]],
                    np.array([1, 0, 0]))
    frame = PairFeaturizer().fit(train).transform(
        PairSet([pool, residences, subway[0]], [residences, residences, subway[1]]))
    assert frame["name_extra_idf"].iloc[0] > 0.5  # "pool" is only in one name
    assert frame["name_extra_idf"].iloc[1] == 0.0
    # Four distinct Subway records in training, one Martin Place Residences.
    assert frame["name_frequency"].iloc[2] == pytest.approx(np.log1p(4))
    assert frame["name_frequency"].iloc[1] == pytest.approx(np.log1p(1))
