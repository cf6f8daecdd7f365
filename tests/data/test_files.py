"""load_interactions_file: CSV/TSV/Parquet in, Interactions out, and a DataError for bad input."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recstack.data.dataset import SequenceDataset
from recstack.data.files import load_interactions_file
from recstack.errors import DataError

CSV = """user_id,item_id,timestamp,city,category
u2,007,1700000300,Jeju,museum
u1,b,1700000200,Seoul,cafe
u1,007,1700000100,Jeju,museum
u2,b,1700000100,Seoul,cafe
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_metadata_columns(tmp_path):
    data = load_interactions_file(_write(tmp_path, "visits.csv", CSV))
    assert data.name == "visits"
    assert list(data.events.columns) == ["user_id", "item_id", "timestamp"]
    # Sorted by user then time; ids stay text, so the leading zero survives.
    assert data.events[["user_id", "item_id"]].values.tolist() == [
        ["u1", "007"], ["u1", "b"], ["u2", "b"], ["u2", "007"]]
    assert data.events["timestamp"].dtype == np.int64
    assert data.items is not None
    assert data.items.to_dict("records") == [
        {"item_id": "007", "city": "Jeju", "category": "museum"},
        {"item_id": "b", "city": "Seoul", "category": "cafe"}]
    ds = SequenceDataset.from_interactions(data)
    assert ds.item_metadata is not None
    assert ds.item_metadata.loc[ds.encode_items(["007"])[0], "city"] == "Jeju"


def test_tsv_custom_columns_iso_times_and_extra_event_columns(tmp_path):
    text = ("visitor\tplace\twhen\trating\tcity\n"
            "a\tp1\t2024-05-01T10:00:00Z\t5\tJeju\n"
            "a\tp2\t2024-05-01 09:00:00\t3\tSeoul\n"
            "b\tp1\t2024-05-02T00:00:00+09:00\t4\tJeju\n")
    data = load_interactions_file(_write(tmp_path, "log.tsv", text), user_col="visitor",
                                  item_col="place", time_col="when", item_columns=["city"],
                                  name="mine")
    assert data.name == "mine"
    # Columns not listed as item metadata stay on the events.
    assert list(data.events.columns) == ["user_id", "item_id", "timestamp", "rating"]
    expected = [pd.Timestamp("2024-05-01T09:00:00Z"), pd.Timestamp("2024-05-01T10:00:00Z"),
                pd.Timestamp("2024-05-01T15:00:00Z")]
    assert data.events["timestamp"].tolist() == [int(t.timestamp()) for t in expected]
    assert data.events["item_id"].tolist() == ["p2", "p1", "p1"]
    assert data.items is not None and list(data.items.columns) == ["item_id", "city"]


def test_parquet_with_datetime_column_and_no_metadata(tmp_path):
    frame = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10],
                          "timestamp": pd.to_datetime(["2024-01-01", "2023-12-31",
                                                       "2024-01-02"])})
    path = tmp_path / "events.pq"
    frame.to_parquet(path)
    data = load_interactions_file(path)
    assert data.items is None
    assert data.events["user_id"].tolist() == ["1", "1", "2"]
    assert data.events["item_id"].tolist() == ["20", "10", "10"]
    assert data.events["timestamp"].tolist() == [1703980800, 1704067200, 1704153600]


def test_conflicting_metadata_keeps_latest_and_warns(tmp_path, caplog):
    text = ("user_id,item_id,timestamp,city\n"
            "u1,x,200,Busan\n"
            "u2,x,100,Seoul\n"
            "u3,y,50,Jeju\n"
            "u3,x,150,\n")
    with caplog.at_level(logging.WARNING, logger="recstack.data.files"):
        data = load_interactions_file(_write(tmp_path, "c.csv", text))
    assert data.items is not None
    assert dict(zip(data.items["item_id"], data.items["city"], strict=True)) == {
        "x": "Busan", "y": "Jeju"}
    assert "city (1 items)" in caplog.text and "'x'" in caplog.text


def test_float_integer_ids_from_parquet_keep_integer_text(tmp_path):
    frame = pd.DataFrame({"user_id": [1.0, 2.0], "item_id": [3.0, 4.0], "timestamp": [1, 2]})
    path = tmp_path / "f.parquet"
    frame.to_parquet(path)
    data = load_interactions_file(path)
    assert data.events["user_id"].tolist() == ["1", "2"]


@pytest.mark.parametrize(("filename", "content", "field", "words"), [
    ("missing.csv", None, "path", ["no file at", "missing.csv"]),
    ("data.json", "{}", "path", ["unsupported", ".json", ".parquet"]),
    ("empty.csv", "", "path", ["empty"]),
    ("header.csv", "user_id,item_id,timestamp\n", "path", ["no rows"]),
    ("ragged.csv", "user_id,item_id,timestamp\nu,i,1\nu,i,1,extra,more\n", "path",
     ["could not parse", "Expected 3 fields"]),
    ("binary.parquet", "this is not parquet", "path", ["could not parse", "parquet"]),
])
def test_unreadable_files(tmp_path, filename, content, field, words):
    path = tmp_path / filename
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError) as info:
        load_interactions_file(path)
    assert info.value.field == field and info.value.fix
    for word in words:
        assert word in str(info.value)


def test_latin1_csv_asks_for_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("user_id,item_id,timestamp\nu,Misérables,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="UTF-8"):
        load_interactions_file(path)


def test_missing_key_column_lists_columns_and_suggests(tmp_path):
    path = _write(tmp_path, "k.csv", "userId,item_id,timestamp\nu,i,1\n")
    with pytest.raises(DataError) as info:
        load_interactions_file(path)
    err = info.value
    assert err.field == "user_id"
    assert "['userId', 'item_id', 'timestamp']" in err.message
    assert err.fix is not None and "user_col='userId'" in err.fix


def test_missing_time_column_suggests_by_similarity(tmp_path):
    path = _write(tmp_path, "k.csv", "user_id,item_id,time_stamp\nu,i,1\n")
    with pytest.raises(DataError) as info:
        load_interactions_file(path)
    assert info.value.field == "timestamp"
    assert "time_col='time_stamp'" in (info.value.fix or "")


def test_headerless_file_says_header_is_needed(tmp_path):
    path = _write(tmp_path, "k.csv", "196,242,881250949\n186,302,891717742\n")
    with pytest.raises(DataError) as info:
        load_interactions_file(path)
    assert "header" in (info.value.fix or "")


def test_unknown_item_column_suggests(tmp_path):
    path = _write(tmp_path, "k.csv", CSV)
    with pytest.raises(DataError) as info:
        load_interactions_file(path, item_columns=["citty"])
    assert info.value.field == "item_columns" and "'city'" in (info.value.fix or "")


def test_empty_ids_report_count_and_rows(tmp_path):
    text = "user_id,item_id,timestamp\nu,i,1\n,i,2\nu,i,3\n  ,i,4\n"
    with pytest.raises(DataError) as info:
        load_interactions_file(_write(tmp_path, "ids.csv", text))
    assert info.value.field == "user_id"
    assert "2 row(s)" in info.value.message and "2, 4" in info.value.message


def test_empty_item_ids(tmp_path):
    text = "user_id,item_id,timestamp\nu,,1\n"
    with pytest.raises(DataError, match="item_id"):
        load_interactions_file(_write(tmp_path, "ids.csv", text))


def test_unparseable_timestamp_gives_example(tmp_path):
    text = "user_id,item_id,timestamp\nu,i,2024-01-01\nu,j,yesterday\n"
    with pytest.raises(DataError) as info:
        load_interactions_file(_write(tmp_path, "t.csv", text))
    assert info.value.field == "timestamp"
    assert "'yesterday'" in info.value.message and "row 2" in info.value.message


def test_missing_timestamp_reports_rows(tmp_path):
    text = "user_id,item_id,timestamp\nu,i,1\nu,j,\n"
    with pytest.raises(DataError) as info:
        load_interactions_file(_write(tmp_path, "t.csv", text))
    assert info.value.field == "timestamp" and "rows" in info.value.message


def test_numeric_text_timestamps_are_seconds(tmp_path):
    frame = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["a", "b"],
                          "timestamp": ["1700000000", "1700000001.7"]})
    path = tmp_path / "s.parquet"
    frame.to_parquet(path)
    assert load_interactions_file(path).events["timestamp"].tolist() == [
        1700000000, 1700000001]
