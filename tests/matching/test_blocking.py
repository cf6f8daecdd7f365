"""Blocking on the records of real Geo-ER pairs: recall of true matches, pairs per record."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recstack.errors import ConfigError
from recstack.matching.blocking import (
    BlockingConfig,
    block,
    blocker_names,
    blocking_recall,
    geo_candidates,
    tables_from_pairs,
)
from recstack.matching.data import Record


def test_name_and_geo_candidates_together_keep_nearly_every_match(geo_pairs):
    pairs = geo_pairs["test"]
    united = blocking_recall(pairs, BlockingConfig(name_k=5, geo_k=5))
    name_only = blocking_recall(pairs, BlockingConfig(blockers=("name",), name_k=5))
    geo_only = blocking_recall(pairs, BlockingConfig(blockers=("geo",), geo_k=5))
    assert united.n_matches > 50
    assert united.recall >= max(name_only.recall, geo_only.recall)
    assert united.recall > 0.95 and united.pairs_per_record <= 10
    assert name_only.pairs_per_record == pytest.approx(5.0)


def test_geo_blocking_uses_the_index_and_skips_unlocated_records(geo_pairs):
    left, right, _ = tables_from_pairs(geo_pairs["test"])
    unlocated = [dataclasses.replace(r, lat=None, lon=None) for r in left[:3]]
    found = geo_candidates(unlocated + left[3:10], right, BlockingConfig(geo_k=4))
    assert [len(c) for c in found[:3]] == [0, 0, 0]
    assert all(len(c) == 4 for c in found[3:])
    # The nearest right record by the tree is the nearest by brute force.
    record = left[3]
    distances = [(r.lat - record.lat) ** 2 + ((r.lon - record.lon) * np.cos(
        np.radians(record.lat))) ** 2 if r.has_coordinates else np.inf for r in right]
    assert int(np.argmin(distances)) in found[3]


def test_radius_and_bad_configs():
    here = Record("A", 1.3000, 103.8000)
    near = Record("B", 1.3005, 103.8000)  # ~56 m north
    far = Record("C", 1.3100, 103.8000)  # ~1.1 km
    found = block([here], [near, far], BlockingConfig(blockers=("geo",), radius_m=100))
    assert found[0].tolist() == [0]
    assert blocker_names() == ["e5", "geo", "name", "roman"]
    with pytest.raises(ConfigError, match="use one of: e5, geo, name, roman"):
        block([here], [near], BlockingConfig(blockers=("embedding",)))
    with pytest.raises(ConfigError, match="no scorer"):
        block([here], [near], BlockingConfig(blockers=("name",), name_scorer="nope"))


@pytest.mark.slow
def test_e5_blocker_finds_matches_across_scripts_where_names_cannot(e5_home, ko_en_pairs):
    pairs = ko_en_pairs["test"].subset(np.arange(600))
    e5 = blocking_recall(pairs, BlockingConfig(blockers=("e5",), name_k=5, e5_home=e5_home))
    name = blocking_recall(pairs, BlockingConfig(blockers=("name",), name_k=5))
    assert e5.pairs_per_record == pytest.approx(5.0) and e5.n_matches > 50
    assert e5.recall > name.recall + 0.3
