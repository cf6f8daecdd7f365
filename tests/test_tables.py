"""The one table reader: every unreadable file becomes a DataError that names the file and fix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recstack.cli import main
from recstack.errors import DataError
from recstack.settings import get_settings
from recstack.tables import read_table

MALFORMED = "a,b\n1,2\n3,4,5,6\n"  # the third line has more fields than the header


@pytest.fixture()
def recstack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run ``recstack ARGS`` in-process through the real entry point; (exit code, output)."""
    monkeypatch.setenv("RECSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "160")
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr("sys.argv", ["recstack", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out + out.err

    yield run
    get_settings.cache_clear()


def test_monitor_labels_on_a_malformed_csv_is_a_message_not_a_traceback(recstack, tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text(MALFORMED)
    code, out = recstack("monitor", "labels", str(bad))
    assert code == 2, out
    assert "labels.csv" in out and "Traceback" not in out


@pytest.mark.parametrize(("filename", "content", "words"), [
    ("missing.csv", None, ["no file at", "missing.csv"]),
    ("data.json", "{}", ["unsupported", ".json", ".parquet"]),
    ("noext", "a,b\n1,2\n", ["unsupported", "(no suffix)"]),
    ("empty.csv", "", ["empty"]),
    ("blank.csv", "\n\n", ["no header and no rows"]),
    ("header.tsv", "a\tb\n", ["no rows"]),
    ("ragged.csv", MALFORMED, ["could not parse ragged.csv as csv", "Expected 2 fields"]),
    ("binary.parquet", "this is not parquet", ["could not parse", "parquet"]),
])
def test_unreadable_files_name_the_field_file_and_fix(tmp_path, filename, content, words):
    path = tmp_path / filename
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError) as info:
        read_table(path, field="--data")
    assert info.value.field == "--data" and info.value.fix
    for word in words:
        assert word in str(info.value)


def test_a_folder_is_not_a_table(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        read_table(tmp_path)


def test_latin1_csv_asks_for_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("name,n\nMisérables,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="re-save the file with UTF-8"):
        read_table(path)


def test_missing_required_columns_are_listed_with_the_columns_present(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("user,item_id\nu1,i1\n")
    with pytest.raises(DataError) as info:
        read_table(path, field="labels", columns=["user_id", "item_id", "label"])
    message = str(info.value)
    assert info.value.field == "labels"
    assert "['user_id', 'label']" in message and "['user', 'item_id']" in message


def test_header_only_is_allowed_when_asked(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("a,b\n")
    frame = read_table(path, allow_no_rows=True, columns=["a"])
    assert list(frame.columns) == ["a", "b"] and frame.empty


def test_csv_tsv_and_parquet_round_trip(tmp_path):
    frame = pd.DataFrame({"id": ["007", "012"], "x": [1.5, 2.5], "city": ["Osaka", "Kyoto"]})
    frame.to_csv(tmp_path / "t.CSV", index=False)
    frame.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    frame.to_parquet(tmp_path / "t.pq", index=False)
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    for name in ("t.CSV", "t.tsv"):
        read = read_table(tmp_path / name, dtype={"id": str}, columns=["id", "x"])
        pd.testing.assert_frame_equal(read, frame)
    # Without dtype the CSV reader guesses numbers, so the leading zeros are gone.
    assert read_table(tmp_path / "t.tsv")["id"].tolist() == [7, 12]
    for name in ("t.pq", "t.parquet"):
        pd.testing.assert_frame_equal(read_table(tmp_path / name), frame)


def test_a_dtype_that_does_not_fit_is_a_data_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x\nabc\n")
    with pytest.raises(DataError, match="could not parse"):
        read_table(path, dtype={"x": "int64"})


def test_treatment_fit_on_a_malformed_csv_exits_2_with_a_message(recstack, tmp_path):
    bad = tmp_path / "patients.csv"
    bad.write_text(MALFORMED)
    code, out = recstack("treatment", "fit", "--data", str(bad))
    assert code == 2, out
    assert "data:" in out and "patients.csv" in out and "Expected 2 fields" in out
    assert "Fix:" in out and "Traceback" not in out
