"""Read a CSV, TSV or Parquet file into a DataFrame, with one clear error for every failure.

Every system that takes a user's file (event logs, treatment tables, monitoring references and
labels) reads it here, so that a missing file, an unknown suffix, an empty file, a ragged CSV or
a missing column is always a ``DataError`` that names the option at fault and the fix, never a
pandas or pyarrow traceback.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from recstack.errors import DataError

__all__ = ["TABLE_SUFFIXES", "read_table"]

_CSV_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_PARQUET_SUFFIXES = (".parquet", ".pq")
TABLE_SUFFIXES = (*_CSV_SEPARATORS, *_PARQUET_SUFFIXES)
"""File suffixes ``read_table`` understands; the suffix alone decides the format."""


def read_table(
    path: str | Path,
    *,
    field: str = "path",
    columns: Sequence[str] | None = None,
    dtype: Mapping[str, Any] | None = None,
    allow_no_rows: bool = False,
) -> pd.DataFrame:
    """Read a ``.csv``, ``.tsv``, ``.parquet`` or ``.pq`` file with a header row.

    Args:
        path: the file; its suffix (any case) decides the format.
        field: the option or setting the path came from (``"data"``, ``"--reference"``); every
            error names it so the user knows which argument to change.
        columns: columns the caller needs; when any is missing the error lists the missing
            ones and the columns the file has.
        dtype: column → dtype for CSV/TSV, where pandas would otherwise guess (e.g. ``str`` for
            ids so that ``007`` keeps its zeros). Parquet files keep the types they store.
        allow_no_rows: accept a header without rows (returns an empty frame). Off by default
            because an empty table is nearly always a mistake upstream.

    Returns:
        The table, columns as in the file.

    Raises:
        DataError: no such file, a folder, an unknown suffix, an empty file, a file that does
            not parse (ragged rows, not UTF-8, not Parquet), no rows, or missing ``columns``.
    """
    path = Path(path)
    suffix = _check_path(path, field)
    # Rebuilt as a dict keyed by Hashable, the shape pandas-stubs wants for read_csv.
    types: dict[Hashable, Any] | None = {k: v for k, v in dtype.items()} if dtype else None
    try:
        if suffix in _CSV_SEPARATORS:
            frame = pd.read_csv(path, sep=_CSV_SEPARATORS[suffix], dtype=types)
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path} has no header and no rows", field=field,
                        fix="write a header row and one row per record to the file") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})",
                        field=field, fix="re-save the file with UTF-8 encoding") from exc
    except (pd.errors.ParserError, pa.ArrowException, ValueError, OSError) as exc:
        # ValueError also covers a dtype that does not fit the data; OSError a truncated file.
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        fix = ("make every line have as many fields as the header row (quote fields that "
               "contain the separator)" if suffix in _CSV_SEPARATORS
               else "re-write the file with pandas.DataFrame.to_parquet or pyarrow")
        raise DataError(f"could not parse {path.name} as {suffix[1:]}: {reason}", field=field,
                        fix=fix) from exc
    if frame.empty and not allow_no_rows:
        raise DataError(f"{path} has a header but no rows", field=field,
                        fix="add one row per record under the header")
    if columns is not None:
        _check_columns(frame, path, field, columns)
    return frame


def _check_path(path: Path, field: str) -> str:
    """The lower-case suffix of a file that exists, is not empty and has a known format."""
    if not path.exists():
        raise DataError(f"no file at {path.resolve()} (the path does not exist)", field=field,
                        fix="check the path (relative paths start at the current directory)")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a file", field=field,
                        fix="pass the CSV or Parquet file inside it")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"unsupported file type {suffix or '(no suffix)'!r} for {path.name}",
                        field=field,
                        fix="save the table as .csv, .tsv, .parquet or .pq (the suffix decides "
                            "the format)")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty", field=field,
                        fix="write a header row and one row per record to the file")
    return suffix


def _check_columns(frame: pd.DataFrame, path: Path, field: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = [str(c) for c in frame.columns]
        raise DataError(f"{path.name} lacks required column(s) {missing}; columns found: "
                        f"{found}", field=field,
                        fix=f"add {', '.join(map(repr, missing))} to the file (the first line "
                            "must be the header row) or rename the matching columns")
