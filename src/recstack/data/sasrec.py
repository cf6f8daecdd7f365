"""Sequence files in the kang205/SASRec format, and the ML-1M-T2 benchmark built from them.

The SASRec repositories (kang205/SASRec, BERT4Rec, gSASRec) ship their data as ``user item``
lines, each user's items in time order, ids already 1..N. ``load_ml1m_t2`` rebuilds ML-1M minus
each user's last two interactions from the gSASRec split files (see
``shared/data/ml-1m/README.md``): the one complete, consistent ML-1M sequence set available here.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from recstack.data.dataset import SequenceDataset
from recstack.data.movielens import read_movies_dat
from recstack.errors import DataError

logger = logging.getLogger(__name__)

# Shape of ML-1M-T2 as documented for the shared copy; anything else means damaged files.
ML1M_T2_USERS = 6040
ML1M_T2_ITEMS = 3416
ML1M_T2_INTERACTIONS = 987_531
ML1M_T2_MIN_LENGTH = 16


def load_sasrec_file(path: str | Path, name: str | None = None) -> SequenceDataset:
    """Load a SASRec-format file: one ``user item`` pair per line, per user in time order.

    Args:
        path: the text file (e.g. kang205/SASRec ``data/ml-1m.txt``).
        name: dataset name; defaults to the file name without its suffix.

    Returns:
        One sequence per user in file order (users sorted by id). When the item ids are
        exactly 1..N they are kept as internal ids, so published ids keep their meaning;
        otherwise they are remapped to 1..N in id order. No timestamps.

    Raises:
        DataError: the file is missing, empty, or has a line that is not two positive ints.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no file at {path.resolve()}", field="path",
                        fix="pass a text file with one 'user item' pair per line")
    pairs = _read_pairs(path)
    users, items = pairs[:, 0], pairs[:, 1]
    unique_items = np.unique(items)
    if unique_items[0] == 1 and unique_items[-1] == len(unique_items):
        internal = items
    else:
        logger.info("%s: item ids are not exactly 1..%d; remapping them in id order", path,
                    len(unique_items))
        internal = np.searchsorted(unique_items, items) + 1
    # Stable sort by user keeps each user's file (= time) order, even if users interleave.
    order = np.argsort(users, kind="stable")
    users, internal = users[order], internal[order].astype(np.int64)
    bounds = np.flatnonzero(np.diff(users)) + 1
    user_ids = np.asarray([str(u) for u in users[np.r_[0, bounds]]], dtype=object)
    return SequenceDataset(
        name=name or path.stem,
        item_ids=np.asarray([str(i) for i in unique_items], dtype=object),
        user_ids=user_ids,
        sequences=np.split(internal, bounds),
    )


def _read_pairs(path: Path) -> np.ndarray:
    """All lines as an (n, 2) int64 array; a bad line raises with its line number."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    tokens = [line.split() for line in lines]
    for number, fields in enumerate(tokens, start=1):
        if len(fields) != 2 or not (fields[0].isdigit() and fields[1].isdigit()):
            raise DataError(f"{path.name} line {number} is not 'user item': "
                            f"{lines[number - 1][:80]!r}", field="path",
                            fix="write one 'user item' pair of positive integers per line")
    if not tokens:
        raise DataError(f"{path} is empty", field="path",
                        fix="write one 'user item' pair per line")
    pairs = np.asarray(tokens, dtype=np.int64)
    if (pairs <= 0).any():
        number = int(np.flatnonzero((pairs <= 0).any(axis=1))[0]) + 1
        raise DataError(f"{path.name} line {number} has id 0; SASRec ids start at 1",
                        field="path", fix="number users and items from 1 (0 is padding)")
    return pairs


def load_ml1m_t2(sasrec_dir: str | Path, movies_path: str | Path | None = None
                 ) -> SequenceDataset:
    """Build ML-1M-T2: SASRec's ML-1M minus every user's last two interactions.

    Each user's sequence is their ``val_input.txt`` line if they are a validation user (their
    ``train_input.txt`` line is a prefix of exactly one val line), else their train line.

    Args:
        sasrec_dir: folder with ``train_input.txt``, ``val_input.txt`` and (for metadata)
            ``sas_to_original_items.txt``.
        movies_path: ML-1M ``movies.dat``; defaults to ``sasrec_dir/../movies.dat`` when present.

    Returns:
        6,040 users ``"1".."6040"`` and 3,416 items whose internal id equals the SASRec item id
        (``item_ids`` is ``"1".."3416"``); no timestamps. ``item_metadata`` (indexed 1..3416)
        has ``title``, ``genres``, ``year`` and the original ``movie_id`` when the mapping file
        and ``movies.dat`` are available.

    Raises:
        DataError: a file is missing or the result does not have the documented shape.
    """
    folder = Path(sasrec_dir)
    train = _read_sequences(_require(folder, "train_input.txt"))
    val = _read_sequences(_require(folder, "val_input.txt"))
    sequences = _extend_validation_users(train, val)
    _check_t2_shape(sequences)
    metadata = _t2_metadata(folder, movies_path)
    return SequenceDataset(
        name="ml-1m-t2",
        item_ids=np.asarray([str(i) for i in range(1, ML1M_T2_ITEMS + 1)], dtype=object),
        user_ids=np.asarray([str(u) for u in range(1, len(sequences) + 1)], dtype=object),
        sequences=sequences,
        item_metadata=metadata,
    )


def _require(folder: Path, filename: str) -> Path:
    path = folder / filename
    if not path.is_file():
        raise DataError(f"{filename} not found in {folder.resolve()}", field="sasrec_dir",
                        fix="pass the ml-1m/sasrec folder of the shared data (it holds "
                            "train_input.txt, val_input.txt and sas_to_original_items.txt)")
    return path


def _read_sequences(path: Path) -> list[np.ndarray]:
    """One int64 array per line of space-separated ids."""
    lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    lengths = [len(line.split()) for line in lines]
    try:
        # One conversion for the whole file is ~20x faster than one per line.
        flat = np.asarray(" ".join(lines).split(), dtype=np.int64)
    except ValueError as exc:
        raise DataError(f"{path.name} has a value that is not an integer item id", field=path.name,
                        fix="restore the original file from the shared data") from exc
    return np.split(flat, np.cumsum(lengths)[:-1])


def _extend_validation_users(train: list[np.ndarray], val: list[np.ndarray]
                             ) -> list[np.ndarray]:
    """Replace each validation user's train line by the one val line it is a prefix of."""
    by_first_item: dict[int, list[int]] = defaultdict(list)
    for index, line in enumerate(val):
        if len(line):
            by_first_item[int(line[0])].append(index)
    used = np.zeros(len(val), dtype=bool)
    sequences = []
    for line in train:
        matches = [] if not len(line) else [
            v for v in by_first_item.get(int(line[0]), ())
            if len(val[v]) > len(line) and np.array_equal(val[v][: len(line)], line)]
        if len(matches) == 1:
            used[matches[0]] = True
            sequences.append(val[matches[0]])
        else:
            sequences.append(line)
    if not used.all():
        raise DataError(f"{int((~used).sum())} line(s) of val_input.txt extend no single "
                        f"train_input.txt line (first: line {int(np.argmin(used)) + 1})",
                        field="val_input.txt",
                        fix="use train_input.txt and val_input.txt from the same split")
    return sequences


def _check_t2_shape(sequences: list[np.ndarray]) -> None:
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    items = np.unique(np.concatenate(sequences)) if sequences else np.array([], np.int64)
    shortest = int(lengths.min()) if len(lengths) else 0
    found = (len(sequences), len(items), int(lengths.sum()), shortest)
    expected = (ML1M_T2_USERS, ML1M_T2_ITEMS, ML1M_T2_INTERACTIONS, ML1M_T2_MIN_LENGTH)
    complete_ids = len(items) > 0 and items[0] == 1 and items[-1] == len(items)
    if found != expected or not complete_ids:
        raise DataError(
            f"ML-1M-T2 came out as {found[0]} users, {found[1]} items, {found[2]} interactions, "
            f"shortest sequence {found[3]}; expected {expected[0]}, {expected[1]}, "
            f"{expected[2]}, {expected[3]} with item ids 1..{expected[1]}",
            field="sasrec_dir",
            fix="restore the ml-1m/sasrec files from the shared data (they look truncated or "
                "edited)")


def _t2_metadata(folder: Path, movies_path: str | Path | None) -> pd.DataFrame | None:
    """Title, genres, year and original MovieID per SASRec item, indexed 1..3416."""
    if movies_path is None:
        movies_path = folder.parent / "movies.dat"
        if not movies_path.is_file():
            logger.info("no movies.dat at %s: ML-1M-T2 without item metadata", movies_path)
            return None
    movies_path = Path(movies_path)
    if not movies_path.is_file():
        raise DataError(f"no movies.dat at {movies_path.resolve()}", field="movies_path",
                        fix="pass the ML-1M movies.dat, or movies_path=None to skip metadata")
    mapping = pd.read_csv(_require(folder, "sas_to_original_items.txt"), sep=r"\s+",
                          header=None, names=["internal_id", "movie_id"], dtype=np.int64)
    if mapping["internal_id"].duplicated().any() or len(mapping) != ML1M_T2_ITEMS:
        raise DataError(f"sas_to_original_items.txt maps {mapping['internal_id'].nunique()} "
                        f"distinct items; expected {ML1M_T2_ITEMS}, each once",
                        field="sas_to_original_items.txt",
                        fix="restore the file from the shared data")
    movies = read_movies_dat(movies_path).rename(columns={"item_id": "movie_id"})
    movies["movie_id"] = movies["movie_id"].astype(np.int64)
    meta = mapping.merge(movies, on="movie_id", how="left").set_index("internal_id")
    meta = meta.reindex(pd.RangeIndex(1, ML1M_T2_ITEMS + 1, name="internal_id"))
    unmatched = int(meta["title"].isna().sum())
    if unmatched:
        logger.warning("%d ML-1M-T2 items have no row in %s; their metadata is empty",
                       unmatched, movies_path)
    return meta[["title", "genres", "year", "movie_id"]]
