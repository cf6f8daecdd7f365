"""MovieLens 1M and 100K: download the GroupLens archives and load them as ``Interactions``.

The loaders read the original GroupLens file formats (``ratings.dat`` / ``movies.dat`` for ML-1M,
``u.data`` / ``u.item`` / ``u.genre`` for ML-100K). Ratings become an extra events column
``rating``; item metadata is ``item_id``, ``title``, ``genres`` (``|``-separated) and ``year``.
See https://grouplens.org/datasets/movielens/ (research use only; cite Harper & Konstan 2015).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from recstack.data.dataset import Interactions
from recstack.errors import DataError

logger = logging.getLogger(__name__)

ML1M_URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
ML1M_MD5 = "c4d9eecfca2ab87c1945afe126590906"
ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML100K_MD5 = "0e33842e24a9c977be4e0107933c0723"

_ARCHIVES = {"ml-1m": (ML1M_URL, ML1M_MD5), "ml-100k": (ML100K_URL, ML100K_MD5)}
_CHUNK = 1 << 20
# The 19 genre flags of u.item, in column order, when u.genre is not at hand.
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)


def download_movielens(name: str, dest_dir: str | Path, *, url: str | None = None,
                       md5: str | None = None) -> Path:
    """Download a MovieLens zip, check its md5 and unpack it to ``dest_dir / name``.

    Nothing is downloaded when ``dest_dir / name`` already holds files.

    Args:
        name: ``"ml-1m"`` or ``"ml-100k"``; any other name needs ``url``.
        dest_dir: folder to unpack into (created if needed).
        url: where to fetch the zip; defaults to the GroupLens address for ``name``.
        md5: expected checksum of the zip; defaults to the one GroupLens publishes for ``name``.
            With neither a known name nor ``md5`` the download is not verified.

    Returns:
        The folder with the unpacked files, ``dest_dir / name``.

    Raises:
        DataError: unknown name without url, download failure, checksum mismatch (the partial
            file is deleted) or an archive that is not a zip.
    """
    known_url, known_md5 = _ARCHIVES.get(name, (None, None))
    url = url or known_url
    md5 = (md5 or known_md5 or "").lower() or None
    if url is None:
        raise DataError(f"unknown MovieLens dataset {name!r}", field="name",
                        fix=f"use one of {sorted(_ARCHIVES)} or pass url=")
    dest_dir = Path(dest_dir)
    target = dest_dir / name
    if target.is_dir() and any(target.iterdir()):
        logger.info("%s already present at %s; not downloading", name, target)
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    if md5 is None:
        logger.warning("no md5 for %s: the download from %s is not verified", name, url)
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=f".{name}-") as tmp:
        archive = Path(tmp) / f"{name}.zip"
        _fetch(url, archive, md5)
        _unpack(archive, Path(tmp) / "unpacked", target)
    logger.info("unpacked %s to %s", name, target)
    return target


def _fetch(url: str, archive: Path, md5: str | None) -> None:
    """Stream ``url`` to ``archive`` while hashing it; delete it if the checksum is wrong."""
    digest = hashlib.md5(usedforsecurity=False)
    logger.info("downloading %s", url)
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            response.raise_for_status()
            with archive.open("wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    except httpx.HTTPStatusError as exc:
        archive.unlink(missing_ok=True)
        raise DataError(f"download of {url} failed with HTTP {exc.response.status_code}",
                        field="url", fix="check the address, or download the zip by hand and "
                                         "unpack it into the destination folder") from exc
    except httpx.HTTPError as exc:
        archive.unlink(missing_ok=True)
        raise DataError(f"could not download {url}: {exc}", field="url",
                        fix="check the network connection (or proxy), or download the zip by "
                            "hand and unpack it into the destination folder") from exc
    if md5 is not None and digest.hexdigest() != md5:
        archive.unlink(missing_ok=True)
        raise DataError(f"checksum mismatch for {url}: md5 {digest.hexdigest()}, expected {md5}",
                        field="md5", fix="retry the download (it may have been cut off); if it "
                                         "persists the file at that address has changed")


def _unpack(archive: Path, scratch: Path, target: Path) -> None:
    """Extract, then move the archive's single top folder (or all of it) to ``target``."""
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(scratch)  # zipfile drops absolute paths and ".." parts
    except zipfile.BadZipFile as exc:
        raise DataError(f"the download {archive.name} is not a valid zip archive",
                        field="url", fix="check that the url points at a .zip file") from exc
    entries = [p for p in scratch.iterdir() if p.name != "__MACOSX"]
    source = entries[0] if len(entries) == 1 and entries[0].is_dir() else scratch
    if target.exists():
        target.rmdir()  # empty: the caller returns early when it has files
    shutil.move(str(source), str(target))


def _missing_files_error(dataset: str, wanted: str, path: str | Path | None,
                         fix_files: str) -> DataError:
    if path is None:
        where = "no path given"
    elif Path(path).is_dir():
        where = f"the folder {Path(path).resolve()} does not have it"
    else:
        where = f"{Path(path).resolve()} does not exist"
    return DataError(
        f"MovieLens {dataset} {wanted} not found ({where})",
        field="path",
        fix=f"put {fix_files} from {dataset}.zip in a folder (e.g. data/{dataset}/) and pass "
            f"that folder; when the network is allowed, download_movielens({dataset!r}, "
            f"'data') or `recstack data download {dataset}` fetches and unpacks them there")


def load_movielens_1m(path: str | Path | None) -> Interactions:
    """Load MovieLens 1M ratings (and movie metadata when ``movies.dat`` is beside them).

    Args:
        path: the folder holding ``ratings.dat`` (and optionally ``movies.dat``), or the
            ``ratings.dat`` file itself.

    Returns:
        Interactions named ``ml-1m``: events with ``user_id``, ``item_id`` (MovieID),
        ``timestamp`` (epoch seconds) and ``rating`` (1-5); items with ``item_id``, ``title``,
        ``genres`` and ``year`` when ``movies.dat`` exists.

    Raises:
        DataError: the files are missing or malformed.
    """
    wanted = "ratings.dat (UserID::MovieID::Rating::Timestamp)"
    if path is None or not Path(path).exists():
        raise _missing_files_error("ml-1m", wanted, path, "ratings.dat and movies.dat")
    path = Path(path)
    ratings = path / "ratings.dat" if path.is_dir() else path
    if not ratings.is_file():
        raise _missing_files_error("ml-1m", wanted, path, "ratings.dat and movies.dat")
    # "::" has no single-character form, but splitting on ":" leaves empty fields in between;
    # that keeps pandas' fast C parser (the python engine needed for "::" is ~10x slower).
    raw = _read_numeric(ratings, sep=":", usecols=[0, 2, 4, 6],
                        names=["user_id", "item_id", "rating", "timestamp"], dataset="ml-1m")
    movies = ratings.parent / "movies.dat"
    items = read_movies_dat(movies) if movies.is_file() else None
    if items is None:
        logger.info("no movies.dat beside %s: loading ML-1M without item metadata", ratings)
    return Interactions(name="ml-1m", events=_events(raw), items=items)


def load_movielens_100k(path: str | Path | None) -> Interactions:
    """Load MovieLens 100K ratings (and movie metadata when ``u.item`` is beside them).

    Args:
        path: the ``ml-100k`` folder holding ``u.data`` (and optionally ``u.item``,
            ``u.genre``), or the ``u.data`` file itself.

    Returns:
        Interactions named ``ml-100k``: events with ``user_id``, ``item_id``, ``timestamp``
        and ``rating``; items with ``item_id``, ``title``, ``genres`` and ``year``.

    Raises:
        DataError: the files are missing or malformed.
    """
    wanted = "u.data (user \\t item \\t rating \\t timestamp)"
    if path is None or not Path(path).exists():
        raise _missing_files_error("ml-100k", wanted, path, "u.data, u.item and u.genre")
    path = Path(path)
    ratings = path / "u.data" if path.is_dir() else path
    if not ratings.is_file():
        raise _missing_files_error("ml-100k", wanted, path, "u.data, u.item and u.genre")
    raw = _read_numeric(ratings, sep="\t", usecols=[0, 1, 2, 3],
                        names=["user_id", "item_id", "rating", "timestamp"], dataset="ml-100k")
    folder = ratings.parent
    items = None
    if (folder / "u.item").is_file():
        items = _read_u_item(folder / "u.item", _genre_names(folder / "u.genre"))
    else:
        logger.info("no u.item beside %s: loading ML-100K without item metadata", ratings)
    return Interactions(name="ml-100k", events=_events(raw), items=items)


def _read_numeric(path: Path, *, sep: str, usecols: list[int], names: list[str],
                  dataset: str) -> pd.DataFrame:
    """Read an all-integer ratings file; any parse problem becomes a DataError."""
    try:
        frame = pd.read_csv(path, sep=sep, header=None, usecols=usecols, names=names,
                            dtype=np.int64, engine="c")
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path} is empty", field="path",
                        fix=f"unpack {path.name} again from {dataset}.zip") from exc
    except (pd.errors.ParserError, ValueError, TypeError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path} is not a {dataset} ratings file: {reason}", field="path",
                        fix=f"unpack {path.name} again from {dataset}.zip; every line must be "
                            f"4 integers (user, item, rating, timestamp)") from exc
    if frame.empty:
        raise DataError(f"{path} has no ratings", field="path",
                        fix=f"unpack {path.name} again from {dataset}.zip")
    return frame


def _events(raw: pd.DataFrame) -> pd.DataFrame:
    """Integer columns -> the Interactions event table, sorted by user (numerically), time."""
    order = np.lexsort((raw["timestamp"].to_numpy(), raw["user_id"].to_numpy()))
    raw = raw.iloc[order]
    return pd.DataFrame({
        "user_id": raw["user_id"].astype(str).to_numpy(dtype=object),
        "item_id": raw["item_id"].astype(str).to_numpy(dtype=object),
        "timestamp": raw["timestamp"].to_numpy(dtype=np.int64),
        "rating": raw["rating"].to_numpy(dtype=np.int64),
    })


def _year_from_title(titles: pd.Series) -> pd.Series:
    # Greedy ".*" takes the last "(1995)": titles like "Land Before Time III (1995) (V)" exist.
    return pd.to_numeric(titles.str.extract(r".*\((\d{4})\)", expand=False)).astype("Int64")


def read_movies_dat(path: str | Path) -> pd.DataFrame:
    """Read ML-1M ``movies.dat`` (``MovieID::Title::Genres``, latin-1).

    Args:
        path: the ``movies.dat`` file.

    Returns:
        One row per movie: ``item_id`` (str), ``title``, ``genres`` (``|``-separated str) and
        ``year`` (nullable int, from the title's trailing ``(1995)``).

    Raises:
        DataError: a line does not have three ``::``-separated fields.
    """
    path = Path(path)
    rows = []
    # Titles contain ":" and commas, so split each line on "::" by hand (3,883 lines).
    for number, line in enumerate(path.read_text(encoding="latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("::")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            raise DataError(f"{path} line {number} is not MovieID::Title::Genres: {line[:80]!r}",
                            field="movies.dat",
                            fix="use the original movies.dat from ml-1m.zip (latin-1 encoded)")
        rows.append((fields[0].strip(), fields[1].strip(), fields[2].strip()))
    movies = pd.DataFrame(rows, columns=["item_id", "title", "genres"])
    movies["year"] = _year_from_title(movies["title"])
    return movies


def _genre_names(path: Path) -> list[str]:
    """Genre names by flag position from u.genre (``name|index``), else the standard 19."""
    if not path.is_file():
        return list(ML100K_GENRES)
    pairs = []
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.strip():
            name, _, index = line.rpartition("|")
            if not index.strip().isdigit():
                raise DataError(f"{path} has a line that is not name|index: {line!r}",
                                field="u.genre", fix="use the original u.genre from ml-100k.zip")
            pairs.append((int(index), name))
    return [name for _, name in sorted(pairs)]


def _read_u_item(path: Path, genres: list[str]) -> pd.DataFrame:
    """Read u.item: id|title|release|video release|IMDb URL|one 0/1 flag per genre."""
    n_columns = 5 + len(genres)
    try:
        raw = pd.read_csv(path, sep="|", header=None, encoding="latin-1", dtype=str,
                          quoting=csv.QUOTE_NONE, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"could not parse {path}: {str(exc).strip()[:200]}", field="u.item",
                        fix="use the original u.item from ml-100k.zip") from exc
    if raw.shape[1] != n_columns:
        raise DataError(f"{path} has {raw.shape[1]} fields per line, expected {n_columns} "
                        f"(5 + {len(genres)} genre flags)", field="u.item",
                        fix="use u.item and u.genre from the same ml-100k.zip")
    flags = raw.iloc[:, 5:].to_numpy() == "1"  # (n_items, n_genres)
    titles = raw[1].str.strip()
    return pd.DataFrame({
        "item_id": raw[0].str.strip().to_numpy(dtype=object),
        "title": titles.to_numpy(dtype=object),
        "genres": ["|".join(g for g, on in zip(genres, row, strict=True) if on) for row in flags],
        "year": _year_from_title(titles),
    })
