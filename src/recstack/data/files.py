"""Load an interaction log from a CSV, TSV or Parquet file into ``Interactions``.

This is the front door for users' own data: one row per event with a user, an item and a time,
plus optional item metadata columns (city, category, ...) that are split off into the item table.
Every problem with the file is reported as a ``DataError`` that names the column and the fix.
"""

from __future__ import annotations

import difflib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from recstack.data.dataset import Interactions
from recstack.errors import DataError
from recstack.tables import read_table

logger = logging.getLogger(__name__)

_MAX_ROWS_SHOWN = 5


def load_interactions_file(
    path: str | Path,
    *,
    user_col: str = "user_id",
    item_col: str = "item_id",
    time_col: str = "timestamp",
    item_columns: list[str] | None = None,
    name: str | None = None,
) -> Interactions:
    """Read an event log and return it as ``Interactions``.

    Args:
        path: a ``.csv``, ``.tsv``, ``.parquet`` or ``.pq`` file with a header row.
        user_col: column holding the user id (read as text, so ``007`` stays ``007``).
        item_col: column holding the item id (read as text).
        time_col: column holding the event time: integer epoch seconds, or anything pandas
            parses as a datetime (ISO strings, Parquet timestamps). Naive times count as UTC.
        item_columns: metadata columns that describe the item (e.g. ``["city", "category"]``);
            they become the item table, one row per item. ``None`` takes every column other
            than the three keys. Columns not listed stay on the events as extra columns.
        name: dataset name; defaults to the file name without its suffix.

    Returns:
        Events with columns ``user_id``, ``item_id``, ``timestamp`` (int64 seconds) and any
        extra columns, sorted by user then time (stable); ``items`` is ``None`` when there is
        no metadata column. Where an item's metadata differs between rows, the latest
        non-missing value wins and a warning is logged.

    Raises:
        DataError: the file is missing, empty, unreadable or of an unsupported type; a key
            column is missing; ids are empty; or timestamps cannot be parsed.
    """
    path = Path(path)
    # Ids as text: numeric-looking ids keep leading zeros and never become floats.
    frame = read_table(path, dtype=dict.fromkeys((user_col, item_col), str))
    _check_columns(frame, path, user_col, item_col, time_col)
    if item_columns is None:
        item_columns = [c for c in frame.columns if c not in (user_col, item_col, time_col)]
    else:
        _check_item_columns(frame, item_columns, (user_col, item_col, time_col))
    users = _clean_ids(frame[user_col], user_col, "user_col")
    items = _clean_ids(frame[item_col], item_col, "item_col")
    times = _to_epoch_seconds(frame[time_col], time_col)
    extra = [c for c in frame.columns
             if c not in (user_col, item_col, time_col) and c not in item_columns]
    events = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": times})
    for column in extra:
        events[column] = frame[column].array  # .array: no index alignment, dtype kept
    # Interactions promises user-then-time order; lexsort is stable, so ties keep file order.
    user_codes = pd.factorize(events["user_id"], sort=True)[0]
    order = np.lexsort((times, user_codes))
    events = events.iloc[order].reset_index(drop=True)
    metadata = None
    if item_columns:
        metadata = _item_table(frame[item_columns], items, times)
    logger.info("loaded %d events, %d users, %d items from %s", len(events),
                events["user_id"].nunique(), events["item_id"].nunique(), path)
    return Interactions(name=name or path.stem, events=events, items=metadata)


def _check_columns(frame: pd.DataFrame, path: Path, user_col: str, item_col: str,
                   time_col: str) -> None:
    """Raise a DataError for the first key column that the file lacks, with a suggestion."""
    if len({user_col, item_col, time_col}) < 3:
        raise DataError(f"user_col, item_col and time_col must differ, got {user_col!r}, "
                        f"{item_col!r}, {time_col!r}", field="user_col/item_col/time_col",
                        fix="name three different columns")
    found = [str(c) for c in frame.columns]
    for column, option in ((user_col, "user_col"), (item_col, "item_col"),
                           (time_col, "time_col")):
        if column in frame.columns:
            continue
        guess = _closest(column, found)
        fix = (f"pass {option}={guess!r} or rename that column to {column!r}" if guess
               else f"add a {column!r} column or pass {option}= the column that holds it; "
                    "the first line of the file must be a header row")
        raise DataError(f"{path.name} has no column {column!r}; columns found: {found}",
                        field=column, fix=fix)


def _check_item_columns(frame: pd.DataFrame, item_columns: list[str],
                        keys: tuple[str, str, str]) -> None:
    for column in item_columns:
        if column in keys:
            raise DataError(f"{column!r} is a key column and cannot be item metadata",
                            field="item_columns", fix=f"remove {column!r} from item_columns")
        if column not in frame.columns:
            found = [str(c) for c in frame.columns]
            guess = _closest(column, found)
            hint = f"did you mean {guess!r}? " if guess else ""
            raise DataError(f"item column {column!r} is not in the file; columns found: {found}",
                            field="item_columns",
                            fix=f"{hint}list only columns that exist, or pass item_columns=None")


def _closest(name: str, candidates: list[str]) -> str | None:
    """The candidate closest to ``name``: same name ignoring case first, then difflib."""
    for candidate in candidates:
        if candidate.lower() == name.lower():
            return candidate
    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[match[0]] if match else None


def _row_numbers(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)[:_MAX_ROWS_SHOWN] + 1
    return ", ".join(str(r) for r in rows) + (", ..." if mask.sum() > _MAX_ROWS_SHOWN else "")


def _clean_ids(column: pd.Series, name: str, option: str) -> np.ndarray:
    """Ids as stripped strings; missing or blank ids raise with their row numbers."""
    if pd.api.types.is_float_dtype(column):
        # Parquet integer ids with nulls arrive as floats; keep "12", not "12.0".
        whole = column.dropna()
        if (whole == np.floor(whole)).all():
            column = column.astype("Int64")
    text = column.astype("string").str.strip()
    missing = (text.isna() | (text == "")).to_numpy(dtype=bool)
    if missing.any():
        raise DataError(
            f"{int(missing.sum())} row(s) have an empty {name!r}; first data rows "
            f"(1 = first row after the header): {_row_numbers(missing)}",
            field=name,
            fix=f"fill in or drop those rows, or check that {option} names the right column")
    return text.to_numpy(dtype=object)


def _to_epoch_seconds(column: pd.Series, name: str) -> np.ndarray:
    """Integer seconds, numeric strings, datetimes or date strings -> int64 epoch seconds."""
    missing = column.isna().to_numpy(dtype=bool)
    if pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
        missing |= (column.astype("string").str.strip() == "").fillna(False).to_numpy(bool)
    if missing.any():
        raise DataError(
            f"{int(missing.sum())} row(s) have no {name!r}; first data rows "
            f"(1 = first row after the header): {_row_numbers(missing)}",
            field=name, fix="fill in the time of every event or drop those rows")
    if pd.api.types.is_bool_dtype(column):
        raise DataError(f"{name!r} holds true/false values, not times", field=name,
                        fix="pass time_col= the column with epoch seconds or dates")
    if pd.api.types.is_numeric_dtype(column):
        return _numeric_seconds(column.to_numpy(dtype=np.float64), name)
    if pd.api.types.is_datetime64_any_dtype(column):
        return _datetime_seconds(pd.Series(column))
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().all():
        return _numeric_seconds(numbers.to_numpy(dtype=np.float64), name)
    return _datetime_seconds(_parse_dates(column.astype(str), name))


def _numeric_seconds(values: np.ndarray, name: str) -> np.ndarray:
    if not np.isfinite(values).all():
        bad = values[~np.isfinite(values)][0]
        raise DataError(f"{name!r} has a non-finite value ({bad})", field=name,
                        fix="use integer epoch seconds or ISO dates")
    if np.abs(values).max() > 1e11:
        # 1e11 s is year 5138: values this large are almost surely milliseconds or finer.
        logger.warning("%r has values above 1e11; if they are milliseconds, divide by 1000 "
                       "before loading (recstack expects seconds)", name)
    return np.floor(values).astype(np.int64)


def _parse_dates(text: pd.Series, name: str) -> pd.Series:
    try:
        return pd.to_datetime(text, utc=True)
    except (ValueError, TypeError, OverflowError):
        # The fast path infers one format from the first value; mixed parses value by value.
        parsed = pd.to_datetime(text, utc=True, format="mixed", errors="coerce")
    failed = parsed.isna().to_numpy(dtype=bool)
    if failed.any():
        example = text[failed].iloc[0]
        raise DataError(
            f"{int(failed.sum())} value(s) of {name!r} are neither epoch seconds nor dates, "
            f"e.g. {example!r} (first data row {int(np.flatnonzero(failed)[0]) + 1})",
            field=name,
            fix="use integer epoch seconds or ISO 8601 times like '2024-05-01T13:45:00Z'")
    return parsed


def _datetime_seconds(times: pd.Series) -> np.ndarray:
    if times.dt.tz is None:
        times = times.dt.tz_localize("UTC")
    seconds = (times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype=np.int64)


def _item_table(meta: pd.DataFrame, items: np.ndarray, times: np.ndarray) -> pd.DataFrame:
    """One row per item: the latest non-missing value of each metadata column."""
    columns = list(meta.columns)
    order = np.argsort(times, kind="stable")  # oldest first, so last() is the latest
    meta = meta.iloc[order].reset_index(drop=True).assign(item_id=items[order])
    grouped = meta.groupby("item_id", sort=True)[columns]
    conflicts = grouped.nunique(dropna=True) > 1
    if conflicts.to_numpy().any():
        per_column = conflicts.sum()
        described = ", ".join(f"{c} ({int(n)} items)" for c, n in per_column.items() if n)
        example = conflicts.any(axis=1).idxmax()
        logger.warning("item metadata differs between rows for %s; kept each item's latest "
                       "value (e.g. item %r)", described, example)
    table = grouped.last().reset_index()
    return table[["item_id", *columns]]
