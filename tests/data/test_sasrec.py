"""SASRec-format files and the ML-1M-T2 recipe on the real shared split files."""

import time
from pathlib import Path

import numpy as np
import pytest

from recstack.data.sasrec import load_ml1m_t2, load_sasrec_file
from recstack.data.splits import leave_one_out
from recstack.errors import DataError


def _write(tmp_path: Path, text: str, name: str = "toy.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_contiguous_item_ids_are_kept(tmp_path):
    ds = load_sasrec_file(_write(tmp_path, "1 3\n1 1\n2 2\n1 2\n2 3\n"))
    assert ds.name == "toy" and ds.timestamps is None
    assert list(ds.item_ids) == ["1", "2", "3"] and list(ds.user_ids) == ["1", "2"]
    assert [s.tolist() for s in ds.sequences] == [[3, 1, 2], [2, 3]]


def test_gapped_item_ids_are_remapped_in_id_order(tmp_path):
    ds = load_sasrec_file(_write(tmp_path, "5 40\n5 7\n10 7\n2 99\n"), name="gaps")
    assert ds.name == "gaps"
    assert list(ds.item_ids) == ["7", "40", "99"]
    assert list(ds.user_ids) == ["2", "5", "10"]  # numeric user order
    assert [list(ds.decode_items(s)) for s in ds.sequences] == [["99"], ["40", "7"], ["7"]]


@pytest.mark.parametrize(("text", "words"), [
    ("1 2\n1 x\n", ["line 2"]),
    ("1 2 3\n", ["line 1", "'user item'"]),
    ("1 0\n", ["id 0"]),
    ("", ["empty"]),
])
def test_bad_sasrec_files(tmp_path, text, words):
    with pytest.raises(DataError) as info:
        load_sasrec_file(_write(tmp_path, text))
    for word in words:
        assert word in str(info.value)


def test_missing_sasrec_file(tmp_path):
    with pytest.raises(DataError, match="no file at"):
        load_sasrec_file(tmp_path / "ml-1m.txt")


def test_ml1m_t2_real(shared_data):
    sasrec = shared_data / "ml-1m" / "sasrec"
    start = time.perf_counter()
    ds = load_ml1m_t2(sasrec)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (6040, 3416, 987_531)
    assert min(len(s) for s in ds.sequences) == 16
    assert ds.timestamps is None and ds.name == "ml-1m-t2"
    assert list(ds.item_ids) == [str(i) for i in range(1, 3417)]
    assert list(ds.user_ids) == [str(u) for u in range(1, 6041)]
    # Validation users are the val_input lines; everyone else is their train line.
    train = (sasrec / "train_input.txt").read_text().splitlines()
    val = (sasrec / "val_input.txt").read_text().splitlines()
    assert ds.sequences[0].tolist() == [int(x) for x in train[0].split()]
    extended = [u for u, (s, t) in enumerate(zip(ds.sequences, train, strict=True))
                if len(s) != len(t.split())]
    assert len(extended) == len(val) == 512
    assert {" ".join(map(str, ds.sequences[u])) for u in extended} == set(val)
    split = leave_one_out(ds)
    assert len(split.test) == 6040


def test_ml1m_t2_metadata(shared_data):
    ds = load_ml1m_t2(shared_data / "ml-1m" / "sasrec")
    meta = ds.item_metadata
    assert meta is not None and list(meta.index[[0, -1]]) == [1, 3416]
    assert list(meta.columns) == ["title", "genres", "year", "movie_id"]
    # sas_to_original_items.txt line 1 is "1 1198": Raiders of the Lost Ark.
    assert meta.loc[1].to_dict() == {"title": "Raiders of the Lost Ark (1981)",
                                     "genres": "Action|Adventure", "year": 1981,
                                     "movie_id": 1198}
    assert meta["title"].notna().all() and meta["year"].notna().all()


def test_ml1m_t2_damaged_files_raise(tmp_path, shared_data):
    sasrec = shared_data / "ml-1m" / "sasrec"
    for name in ("val_input.txt", "sas_to_original_items.txt"):
        (tmp_path / name).symlink_to(sasrec / name)
    lines = (sasrec / "train_input.txt").read_text().splitlines()
    (tmp_path / "train_input.txt").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DataError) as info:
        load_ml1m_t2(tmp_path)
    assert "6039 users" in info.value.message and info.value.field == "sasrec_dir"


def test_ml1m_t2_unmatched_val_line(tmp_path, shared_data):
    sasrec = shared_data / "ml-1m" / "sasrec"
    (tmp_path / "train_input.txt").symlink_to(sasrec / "train_input.txt")
    val = (sasrec / "val_input.txt").read_text().splitlines()
    (tmp_path / "val_input.txt").write_text("\n".join(["99 98 97", *val]) + "\n")
    with pytest.raises(DataError, match="line 1"):
        load_ml1m_t2(tmp_path)


def test_ml1m_t2_missing_folder(tmp_path):
    with pytest.raises(DataError) as info:
        load_ml1m_t2(tmp_path)
    assert "train_input.txt" in info.value.message and info.value.field == "sasrec_dir"


def test_ml1m_t2_explicit_missing_movies(tmp_path, shared_data):
    with pytest.raises(DataError) as info:
        load_ml1m_t2(shared_data / "ml-1m" / "sasrec", movies_path=tmp_path / "movies.dat")
    assert info.value.field == "movies_path"


def test_ml1m_t2_without_metadata_files(tmp_path, shared_data):
    sasrec = shared_data / "ml-1m" / "sasrec"
    for name in ("train_input.txt", "val_input.txt"):
        (tmp_path / name).symlink_to(sasrec / name)
    ds = load_ml1m_t2(tmp_path)  # no ../movies.dat next to tmp_path
    assert ds.item_metadata is None
    assert np.array_equal(ds.encode_items(["1", "3416"]), [1, 3416])
