"""Korean ↔ English names: romanisation, skeletons and kinds; the gazetteer evaluation set
(deterministic, no place in two splits, hard negatives); the crosslingual matcher against the
base features on it."""

from __future__ import annotations

import numpy as np
import pytest

from recstack.matching.crosslingual import romanize, skeleton, split_kind
from recstack.matching.pipeline import scores


@pytest.mark.parametrize(("name", "base", "kind"), [
    ("부산광역시", "부산", "city"), ("서울역", "서울", "station"),
    ("인천국제공항", "인천", "airport"),
    ("Goyang-si", "Goyang", "city"), ("Incheon International Airport", "Incheon", "airport"),
    ("Busan Railway Station", "Busan", "station"), ("하시", "하시", ""), ("Paris", "Paris", ""),
])
def test_kind_suffixes_are_cut_and_remembered(name, base, kind):
    assert split_kind(name) == (base, kind)


def test_romanisation_and_skeletons_bridge_the_scripts():
    assert romanize("부산") == "busan" and romanize("서울 Tower") == "seoul tower"
    assert romanize("Wałbrzych") == "walbrzych"  # diacritics folded
    assert skeleton("로스앤젤레스") == "rsnjrs"
    assert skeleton("도쿄") == skeleton("Tokyo")
    assert skeleton("부산") == skeleton("Busan") != skeleton("Seoul")


def test_evaluation_set_is_seeded_split_by_place_and_hard(gazetteer, ko_en_pairs):
    from recstack.matching.korean_pairs import (
        build_korean_english_pairs,
        gazetteer_places,
        split_places,
    )

    again = build_korean_english_pairs(gazetteer, seed=0, limit=700)
    other = build_korean_english_pairs(gazetteer, seed=1, limit=700)
    test = ko_en_pairs["test"]
    assert [r.name for r in again["test"].right] == [r.name for r in test.right]
    assert np.array_equal(again["test"].labels, test.labels)
    assert [r.name for r in other["test"].right] != [r.name for r in test.right]
    splits = split_places(gazetteer_places(gazetteer, seed=0, limit=700), 0)
    groups = [{p.group for p in places} for places in splits.values()]
    assert all(not (a & b) for i, a in enumerate(groups) for b in groups[i + 1:])
    # Every English record of a split names a place of that split only.
    for name, pairs in ko_en_pairs.items():
        english = {p.name_en for p in splits[name]}
        others = {p.name_en for n, ps in splits.items() if n != name for p in ps} - english
        assert not {split_kind(r.name)[0] for r in pairs.right} & others
    positives = test.labels.sum()
    assert 0.1 < positives / len(test) < 0.3  # ≈ 1 match per 5–6 candidates
    assert any(r.lat is None for r in test.left) and any(r.lat is None for r in test.right)
    # Hard negatives: a station or airport of the same city as the record, and Hangul names
    # with kind suffixes on the left.
    assert any(split_kind(a.name)[1] != split_kind(b.name)[1] and label == 0
               and skeleton(split_kind(a.name)[0]) == skeleton(split_kind(b.name)[0])
               for a, b, label in zip(test.left, test.right, test.labels, strict=True))


def test_crosslingual_matcher_beats_the_base_features(ko_en_pairs, ko_en_matcher):
    from recstack.matching.matchers import GBMMatcher

    base = GBMMatcher(max_iter=100).fit(ko_en_pairs["train"], ko_en_pairs["valid"])
    test = ko_en_pairs["test"]
    crosslingual = scores(test.labels, ko_en_matcher.predict(test))
    plain = scores(test.labels, base.predict(test))
    assert crosslingual["f1"] > 0.8 and crosslingual["f1"] > plain["f1"] + 0.05
    assert ko_en_matcher.describe()["embedding"] is False


def test_crosslingual_matcher_saves_and_loads_by_name(ko_en_pairs, ko_en_matcher, tmp_path):
    from recstack.matching.matchers import matcher_class, matcher_names

    assert "crosslingual" in matcher_names()
    loaded = matcher_class("crosslingual").load(ko_en_matcher.save(tmp_path / "m"))
    test = ko_en_pairs["test"].subset(range(50))
    assert np.allclose(loaded.predict_proba(test), ko_en_matcher.predict_proba(test))


def test_pair_files_round_trip(ko_en_pairs, tmp_path):
    from recstack.matching.data import read_pairs
    from recstack.matching.korean_pairs import write_pairs

    pairs = ko_en_pairs["valid"]
    again = read_pairs(write_pairs(pairs, tmp_path / "valid.txt"), require_labels=True)
    assert [r.name for r in again.left] == [r.name for r in pairs.left]
    assert [r.lat for r in again.right] == [r.lat for r in pairs.right]
    assert np.array_equal(again.labels, pairs.labels)
