"""Splits: leave-one-out positions and the no-future-leak rule of the temporal split."""

import numpy as np
import pandas as pd
import pytest

from recstack.data.dataset import Interactions, SequenceDataset
from recstack.data.splits import global_temporal_split, leave_one_out
from recstack.errors import DataError


def _dataset(rows: list[tuple[str, str, int]]) -> SequenceDataset:
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    return SequenceDataset.from_interactions(Interactions("toy", events))


def test_from_interactions_orders_by_time_and_keeps_numeric_user_order():
    ds = _dataset([("10", "b", 5), ("2", "a", 9), ("2", "c", 1), ("10", "a", 1)])
    assert list(ds.user_ids) == ["10", "2"]  # string ids sort as strings
    assert list(ds.item_ids) == ["a", "b", "c"]
    assert [list(ds.decode_items(s)) for s in ds.sequences] == [["a", "b"], ["c", "a"]]
    events = pd.DataFrame({"user_id": [10, 2, 2], "item_id": [1, 1, 2], "timestamp": [0, 0, 1]})
    numeric = SequenceDataset.from_interactions(Interactions("n", events))
    assert list(numeric.user_ids) == ["2", "10"]  # numeric ids keep numeric order


def test_leave_one_out_positions():
    ds = _dataset([("u", i, t) for t, i in enumerate(["a", "b", "c", "d", "e"])]
                  + [("short", "a", 0), ("short", "b", 1)])
    split = leave_one_out(ds)
    u = list(ds.user_ids).index("u")
    short = list(ds.user_ids).index("short")
    assert list(ds.decode_items(split.train[u])) == ["a", "b", "c"]
    assert list(ds.decode_items(split.train[short])) == ["a", "b"]  # train-only user
    assert list(split.valid.users) == [u] and list(split.test.users) == [u]
    assert ds.decode_items(split.valid.targets)[0] == "d"
    assert ds.decode_items(split.test.targets)[0] == "e"
    assert list(ds.decode_items(split.test.histories[0])) == ["a", "b", "c", "d"]


def test_temporal_split_never_trains_on_the_future():
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{rng.integers(30)}", int(t)) for u in range(40)
            for t in np.sort(rng.integers(0, 1000, size=12))]
    ds = _dataset(rows)
    split = global_temporal_split(ds, valid_fraction=0.2, test_fraction=0.2)
    cut = int(split.protocol.split("valid>=")[1].split(",")[0])
    for seq, ts in zip(split.train, ds.timestamps, strict=True):
        assert np.all(ts[: len(seq)] < cut)
        assert len(seq) == int(np.sum(ts < cut))
    assert len(split.valid) > 0 and len(split.test) > 0
    for user, hist, target in zip(split.test.users, split.test.histories, split.test.targets,
                                  strict=True):
        full = ds.sequences[user]
        assert np.array_equal(full[: len(hist)], hist)
        assert full[len(hist)] == target


def test_split_errors_name_the_field():
    with pytest.raises(DataError, match="min_length"):
        leave_one_out(_dataset([("u", "a", 0)]), min_length=2)
    with pytest.raises(DataError) as err:
        leave_one_out(_dataset([("u", "a", 0), ("u", "b", 1)]))
    assert err.value.fix
    with pytest.raises(DataError, match="fractions"):
        global_temporal_split(_dataset([("u", "a", 0)]), valid_fraction=0.6, test_fraction=0.6)
