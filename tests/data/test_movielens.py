"""MovieLens loaders on the real shared files, and the downloader against a local HTTP server."""

import functools
import hashlib
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from recstack.data.dataset import SequenceDataset
from recstack.data.movielens import (
    ML1M_URL,
    ML100K_URL,
    download_movielens,
    load_movielens_1m,
    load_movielens_100k,
)
from recstack.errors import DataError

# UserID::MovieID::Rating::Timestamp; user 10 before user 2 in the file, times out of order.
RATINGS = """10::1::5::978300760
2::3::3::978300100
10::73::4::978300000
2::1::2::978300200
"""


def _ml1m_folder(tmp_path: Path, shared_data: Path | None) -> Path:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text(RATINGS)
    if shared_data is not None:
        (folder / "movies.dat").symlink_to(shared_data / "ml-1m" / "movies.dat")
    return folder


def test_ml1m_with_real_movies(tmp_path, shared_data):
    data = load_movielens_1m(_ml1m_folder(tmp_path, shared_data))
    assert data.name == "ml-1m"
    events = data.events
    assert events[["user_id", "item_id"]].values.tolist() == [
        ["2", "3"], ["2", "1"], ["10", "73"], ["10", "1"]]
    assert events["timestamp"].dtype == np.int64 and events["rating"].tolist() == [3, 2, 4, 5]
    items = data.items.set_index("item_id")
    assert len(items) == 3883
    assert items.loc["1"].to_dict() == {"title": "Toy Story (1995)",
                                        "genres": "Animation|Children's|Comedy", "year": 1995}
    assert items.loc["73", "title"] == "Misérables, Les (1995)"  # latin-1 decoded
    assert items["year"].notna().all()
    ds = SequenceDataset.from_interactions(data)
    assert ds.n_items == 3 and ds.item_metadata["year"].tolist() == [1995, 1995, 1995]


def test_ml1m_accepts_the_ratings_file_and_needs_no_movies(tmp_path):
    folder = _ml1m_folder(tmp_path, None)
    data = load_movielens_1m(folder / "ratings.dat")
    assert data.items is None and data.n_events == 4


@pytest.mark.parametrize("path", [None, "nowhere"])
def test_ml1m_missing_says_where_and_how(tmp_path, path):
    with pytest.raises(DataError) as info:
        load_movielens_1m(None if path is None else tmp_path / path)
    fix = info.value.fix or ""
    assert info.value.field == "path" and "ratings.dat" in info.value.message
    assert "download_movielens('ml-1m'" in fix and "recstack data download ml-1m" in fix


def test_ml1m_folder_without_ratings(tmp_path):
    with pytest.raises(DataError, match=r"ratings\.dat"):
        load_movielens_1m(tmp_path)


def test_ml1m_malformed_ratings(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::2::x::4\n")
    with pytest.raises(DataError) as info:
        load_movielens_1m(tmp_path)
    assert "not a ml-1m ratings file" in info.value.message


def test_ml100k_real(shared_data):
    data = load_movielens_100k(shared_data / "ml-100k")
    events = data.events
    assert (len(events), events["user_id"].nunique(), events["item_id"].nunique()) == (
        100_000, 943, 1682)
    assert events["rating"].between(1, 5).all()
    assert list(events.columns) == ["user_id", "item_id", "timestamp", "rating"]
    items = data.items.set_index("item_id")
    assert len(items) == 1682
    assert items.loc["1"].to_dict() == {"title": "Toy Story (1995)",
                                        "genres": "Animation|Children's|Comedy", "year": 1995}
    assert items.loc["1412", "year"] == 1995  # "... (1995) (V)": not a trailing year
    assert items["year"].isna().sum() == 1  # item 267 is titled "unknown"
    ds = SequenceDataset.from_interactions(data)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (943, 1682, 100_000)
    for seq_times in ds.timestamps:
        assert np.all(np.diff(seq_times) >= 0)


def test_ml100k_without_u_genre_uses_standard_names(tmp_path, shared_data):
    for name in ("u.data", "u.item"):
        (tmp_path / name).symlink_to(shared_data / "ml-100k" / name)
    items = load_movielens_100k(tmp_path).items.set_index("item_id")
    assert items.loc["2", "genres"] == "Action|Adventure|Thriller"


def test_ml100k_missing(tmp_path):
    with pytest.raises(DataError) as info:
        load_movielens_100k(tmp_path / "ml-100k")
    assert "u.data" in info.value.message
    assert "download_movielens('ml-100k'" in (info.value.fix or "")


def test_published_urls():
    assert ML1M_URL.endswith("/ml-1m.zip") and ML100K_URL.endswith("/ml-100k.zip")


@pytest.fixture
def http_folder(tmp_path, monkeypatch) -> Iterator[tuple[Path, str]]:
    """A folder served on 127.0.0.1 by http.server, and its base URL."""
    # A proxy in the environment would swallow requests to the local server.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    served = tmp_path / "served"
    served.mkdir()

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(QuietHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _zip_with_ratings(folder: Path) -> str:
    """Write a GroupLens-shaped ml-1m.zip (top folder ml-1m/) and return its md5."""
    archive = folder / "ml-1m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-1m/ratings.dat", RATINGS)
        zf.writestr("ml-1m/README", "test archive")
    return hashlib.md5(archive.read_bytes()).hexdigest()


@pytest.mark.server
def test_download_verifies_and_unpacks(tmp_path, http_folder):
    served, base = http_folder
    md5 = _zip_with_ratings(served)
    dest = tmp_path / "data"
    folder = download_movielens("ml-1m", dest, url=f"{base}/ml-1m.zip", md5=md5)
    assert folder == dest / "ml-1m"
    assert sorted(p.name for p in dest.iterdir()) == ["ml-1m"]  # no zip or temp folder left
    assert load_movielens_1m(folder).n_events == 4
    # Second call: the files are there, so nothing is fetched (this URL would 404).
    assert download_movielens("ml-1m", dest, url=f"{base}/gone.zip") == folder


@pytest.mark.server
def test_download_checksum_mismatch_leaves_nothing(tmp_path, http_folder):
    served, base = http_folder
    _zip_with_ratings(served)
    dest = tmp_path / "data"
    with pytest.raises(DataError) as info:
        download_movielens("ml-1m", dest, url=f"{base}/ml-1m.zip", md5="0" * 32)
    assert info.value.field == "md5" and "checksum mismatch" in info.value.message
    assert list(dest.iterdir()) == []


@pytest.mark.server
def test_download_http_error(tmp_path, http_folder):
    _, base = http_folder
    with pytest.raises(DataError, match="HTTP 404"):
        download_movielens("ml-1m", tmp_path, url=f"{base}/missing.zip")


@pytest.mark.server
def test_download_not_a_zip(tmp_path, http_folder):
    served, base = http_folder
    (served / "page.zip").write_text("<html>not a zip</html>")
    with pytest.raises(DataError, match="not a valid zip"):
        download_movielens("custom", tmp_path / "d", url=f"{base}/page.zip")
    assert list((tmp_path / "d").iterdir()) == []


def test_download_unknown_name(tmp_path):
    with pytest.raises(DataError) as info:
        download_movielens("ml-25m", tmp_path)
    assert info.value.field == "name" and "ml-100k" in (info.value.fix or "")
