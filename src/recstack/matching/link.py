"""Linking two tables of places: reading them, and the requests a link job sends.

The tables are CSV files (UTF-8, header row) with these columns:

===============  =========  ======================================================
column           required   meaning
===============  =========  ======================================================
``id``           yes        the record's id, unique and non-empty in its file
``name``         yes        the place's name, non-empty on every row
``lat``, ``lon`` no         decimal degrees, both or neither (``latitude``/``longitude``
                            are read too); a row may leave both empty
``address``      no         street address
``postal_code``  no         postal code (``zip``/``postcode`` are read too)
anything else    no         kept as attributes and compared by the matcher
===============  =========  ======================================================

One request per left record: the left record and its blocked candidates from the right table.
Its content hash covers the left record, every candidate (id and content) and how it is judged
(executor, model), so an incremental run re-sends a request exactly when one of those changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recstack.errors import DataError
from recstack.matching.blocking import BlockingConfig, block
from recstack.matching.data import LAT_KEYS, LON_KEYS, Record, record_from_values

__all__ = ["LinkRequest", "LinkTable", "plan_requests", "read_link_table", "request_hash"]

REQUIRED = ("id", "name")
COLUMNS_FIX = ("give a CSV with a header row and the columns id, name (required), lat, lon, "
               "address, postal_code (optional)")


@dataclass
class LinkTable:
    """One side of a link: ids (unique, in file order) and their records."""

    path: Path
    ids: list[str]
    records: list[Record]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class LinkRequest:
    """What one request asks: which of ``candidates`` (right id, record) is ``left``'s place."""

    custom_id: str
    left: Record
    candidates: list[tuple[str, Record]]


def read_link_table(path: str | Path, side: str = "--left") -> LinkTable:
    """Read and check one CSV table of records to link.

    Args:
        path: the CSV file.
        side: the option that named it (``--left``/``--right``), for error messages.

    Raises:
        DataError: no file, an empty file, a missing ``id`` or ``name`` column, only one of
            ``lat``/``lon``, an empty or duplicate id, a row without a name, a coordinate that is
            not a number or out of range; each names the file, the row and the fix.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no file at {path}", field=side, fix="give an existing CSV file")
    if not path.read_bytes().strip():
        raise DataError(f"{path.name} is empty", field=side, fix=COLUMNS_FIX)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{path.name} cannot be read as a UTF-8 CSV ({exc})".strip(),
                        field=side, fix=COLUMNS_FIX) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    for column in REQUIRED:
        if column not in frame.columns:
            raise DataError(f"{path.name} has no '{column}' column (it has: "
                            f"{', '.join(frame.columns)})", field=column, fix=COLUMNS_FIX)
    has_lat = any(k in frame.columns for k in LAT_KEYS)
    has_lon = any(k in frame.columns for k in LON_KEYS)
    if has_lat != has_lon:
        missing = "lon" if has_lat else "lat"
        raise DataError(f"{path.name} has only one coordinate column", field=missing,
                        fix="add both 'lat' and 'lon' columns, or neither")
    if frame.empty:
        raise DataError(f"{path.name} has a header but no records", field=side,
                        fix="give at least one row")
    ids = [value.strip() for value in frame["id"].tolist()]
    seen: dict[str, int] = {}
    for row, record_id in enumerate(ids, start=2):  # row 1 is the header
        if not record_id:
            raise DataError(f"{path.name} row {row} has an empty id", field="id",
                            fix="give every record an id")
        if record_id in seen:
            raise DataError(f"{path.name} rows {seen[record_id]} and {row} share the id "
                            f"{record_id!r}", field="id", fix="make every id unique in its file")
        seen[record_id] = row
    columns = [c for c in frame.columns if c != "id"]
    records = [record_from_values(dict(zip(columns, values, strict=True)),
                                  f"{path.name} row {row}")
               for row, values in enumerate(frame[columns].itertuples(index=False, name=None),
                                            start=2)]
    return LinkTable(path, ids, records)


def _digest(record: Record) -> str:
    text = json.dumps(record.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def request_hash(left_digest: str, candidates: Sequence[tuple[str, str]], context: str) -> str:
    """The content hash of one request: its left record, its candidates (id, digest) and how
    it is judged."""
    payload = json.dumps([left_digest, sorted(candidates), context], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def plan_requests(left: LinkTable, right: LinkTable, config: BlockingConfig | None = None, *,
                  context: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Block, then one plan line per left record: ``custom_id`` (the left id), ``left`` (its
    row index), ``candidates`` (right row indexes) and ``hash``.

    Args:
        left: the table whose records are matched.
        right: the table searched for each left record's place.
        config: blocking (candidates per record).
        context: what else decides the answer (executor, model): part of every hash.
    """
    candidates = block(left.records, right.records, config)
    right_digests = [_digest(r) for r in right.records]
    context_text = json.dumps(context or {}, sort_keys=True)
    for i, found in enumerate(candidates):
        index = [int(j) for j in found]
        yield {"custom_id": left.ids[i], "left": i, "candidates": index,
               "hash": request_hash(_digest(left.records[i]),
                                    [(right.ids[j], right_digests[j]) for j in index],
                                    context_text)}


def to_request(plan: dict[str, Any], left: LinkTable, right: LinkTable) -> LinkRequest:
    """A plan line back to the records it names."""
    return LinkRequest(plan["custom_id"], left.records[plan["left"]],
                       [(right.ids[j], right.records[j]) for j in plan["candidates"]])
