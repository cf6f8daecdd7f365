"""Sessionisation, the next-view split and metadata tokens."""

import numpy as np
import pandas as pd
import pytest

from recstack.embeddings import metadata_tokens, next_view_split, sessionize, sessions_dataset
from recstack.embeddings.sessions import cold_rows
from recstack.errors import ConfigError, DataError


def _events(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def test_a_gap_longer_than_the_threshold_starts_a_new_session():
    events = _events([("u1", "a", 0), ("u1", "b", 60), ("u1", "c", 60 + 31 * 60),
                      ("u2", "a", 100), ("u1", "d", 60 + 31 * 60 + 5)])
    sessions = sessionize(events, gap_minutes=30)
    assert sessions.tolist() == [0, 0, 1, 2, 1]  # u2's click is a session of its own


def test_sessionising_recovers_the_generators_sessions(travel):
    sessions = sessionize(travel.events, gap_minutes=30)
    pairs = pd.crosstab(sessions, travel.events["session_id"]).astype(bool)
    assert (pairs.sum(axis=1) == 1).all() and (pairs.sum(axis=0) == 1).all()


@pytest.mark.parametrize(("events", "field"), [
    (_events([]), "events"),
    (pd.DataFrame({"user_id": ["u"], "item_id": ["a"]}), "timestamp"),
    (_events([("u", "a", None), ("u", "b", 3)]), "timestamp"),
])
def test_bad_click_logs_raise_an_error_naming_the_field(events, field):
    with pytest.raises(DataError) as err:
        sessionize(events)
    assert err.value.field == field


def test_non_positive_gap_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        sessionize(_events([("u", "a", 0)]), gap_minutes=0)
    assert err.value.field == "gap_minutes"


def test_single_click_sessions_are_dropped_and_no_session_left_is_an_error():
    events = _events([("u1", "a", 0), ("u1", "b", 10), ("u2", "c", 0)])
    dataset = sessions_dataset(events, None, name="t")
    assert dataset.n_users == 1 and list(dataset.item_ids) == ["a", "b"]
    with pytest.raises(DataError, match="two or more"):
        sessions_dataset(_events([("u1", "a", 0), ("u2", "b", 0)]), None, name="t")


def test_next_view_split_queries_with_the_previous_item(travel_sessions, travel_split):
    test = travel_split.test
    assert len(test) > 0 and all(len(h) == 1 for h in test.histories)
    rows = zip(test.users, test.histories, test.targets, strict=True)
    for user, history, target in list(rows)[:50]:
        seq = travel_sessions.sequences[user]
        assert target == seq[-1] and history[0] == seq[-2] and history[0] != target
    counts = np.zeros(travel_sessions.n_items + 1, dtype=np.int64)
    for seq in travel_split.train:
        np.add.at(counts, seq, 1)
    assert np.array_equal(counts, travel_split.item_counts)


def test_rows_whose_target_repeats_the_query_are_dropped():
    events = _events([("u", "a", 0), ("u", "b", 1), ("u", "c", 2), ("u", "c", 3),
                      ("v", "a", 0), ("v", "c", 1), ("v", "b", 2)])
    split = next_view_split(sessions_dataset(events, None, name="t"))
    assert len(split.test) == 1 and len(split.valid) == 2


def test_cold_rows_keep_targets_with_few_training_views(travel_split):
    cold = cold_rows(travel_split.test, travel_split.item_counts, 5)
    assert (travel_split.item_counts[cold.targets] <= 5).all()
    assert len(cold) == int((travel_split.item_counts[travel_split.test.targets] <= 5).sum())


def test_metadata_tokens_split_multi_values_and_skip_missing():
    meta = pd.DataFrame({"genres": ["Comedy|Drama", None, "Drama"]}, index=[1, 2, 3])
    vocab, table = metadata_tokens(meta, ("genres",), 3)
    assert vocab == ["genres=Comedy", "genres=Drama"]
    assert table.tolist() == [[-1, -1], [0, 1], [-1, -1], [1, -1]]


def test_metadata_tokens_name_an_unknown_field():
    with pytest.raises(DataError) as err:
        metadata_tokens(pd.DataFrame({"city": ["x"]}, index=[1]), ("planet",), 1)
    assert err.value.field == "metadata_fields" and "city" in (err.value.fix or "")
