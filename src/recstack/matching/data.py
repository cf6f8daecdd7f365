"""Pair files in the Ditto / Geo-ER serialisation, read into records.

One candidate pair per line: ``COL name VAL … COL latitude VAL … <TAB> <the other record> <TAB>
0|1`` (gzip or plain text). Attributes are generic ``COL <attr> VAL <value>`` pairs, so product,
citation or restaurant sets load as well as places; the place fields (name, coordinates, address,
postal code) are looked up under their usual attribute names. A file without the label column is
accepted (for ``predict``). Every problem is a :class:`~recstack.errors.DataError` naming the
line and the fix.
"""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recstack.errors import DataError

__all__ = ["PairSet", "Record", "parse_record", "read_pairs", "read_records"]

# The first attribute found under one of these names fills each place field ("title" makes a
# product or paper record readable; "lng" and "zip" are common elsewhere).
NAME_KEYS = ("name", "title")
LAT_KEYS = ("latitude", "lat")
LON_KEYS = ("longitude", "lon", "lng", "long")
ADDRESS_KEYS = ("address", "street", "addr")
POSTAL_KEYS = ("postalcode", "postal_code", "postcode", "zip", "zipcode")
PLACE_KEYS = frozenset(NAME_KEYS + LAT_KEYS + LON_KEYS + ADDRESS_KEYS + POSTAL_KEYS)

_ATTRIBUTE = re.compile(r"(?:^|\s)COL\s+(\S+)\s+VAL(?=\s|$)")
_FORMAT_FIX = ("write each record as 'COL <attribute> VAL <value> …', the two records and the "
               "0/1 label separated by tabs")


@dataclass(frozen=True)
class Record:
    """One entity: its name plus whatever else the source knows.

    Args:
        name: the name (or title); never empty.
        lat: latitude in degrees, or None when unknown.
        lon: longitude in degrees, or None when unknown.
        address: street address ("" when unknown).
        postal_code: postal code ("" when unknown).
        attributes: every other attribute, lower-cased name → value (no empty values).
    """

    name: str
    lat: float | None = None
    lon: float | None = None
    address: str = ""
    postal_code: str = ""
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def has_coordinates(self) -> bool:
        return self.lat is not None and self.lon is not None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "lat": self.lat, "lon": self.lon, "address": self.address,
                "postal_code": self.postal_code, "attributes": dict(self.attributes)}


@dataclass
class PairSet:
    """Candidate pairs: ``left[i]`` and ``right[i]`` with label ``labels[i]`` (None when the file
    has none); ``lines[i]`` is the pair's line index in its file, from 0."""

    left: list[Record]
    right: list[Record]
    labels: np.ndarray | None = None
    lines: np.ndarray | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.left) != len(self.right):
            raise DataError(f"{len(self.left)} left records but {len(self.right)} right ones",
                            field="pairs", fix="give one right record per left record")
        if self.lines is None:
            self.lines = np.arange(len(self.left))

    def __len__(self) -> int:
        return len(self.left)

    def require_labels(self, what: str) -> np.ndarray:
        """The labels, or a DataError saying that ``what`` needs them."""
        if self.labels is None:
            raise DataError(f"{self.source or 'the pairs'} has no label column, which {what} "
                            "needs", field="pairs", fix="add a third tab-separated field, 0 or 1")
        return self.labels

    def subset(self, index: Sequence[int] | np.ndarray) -> PairSet:
        index = np.asarray(index, dtype=int)
        assert self.lines is not None
        return PairSet([self.left[i] for i in index], [self.right[i] for i in index],
                       None if self.labels is None else self.labels[index], self.lines[index],
                       self.source)


def _coordinate(values: dict[str, str], keys: tuple[str, ...], limit: float, where: str
                ) -> float | None:
    key = next((k for k in keys if values.get(k)), None)
    if key is None:
        return None
    try:
        value = float(values[key])
    except ValueError:
        raise DataError(f"{where}: {key} {values[key]!r} is not a number", field=key,
                        fix="write decimal degrees, or leave the value empty") from None
    if not math.isfinite(value) or abs(value) > limit:
        raise DataError(f"{where}: {key} {value} is outside [-{limit:g}, {limit:g}]", field=key,
                        fix="write decimal degrees (latitude first), or leave the value empty")
    return value


def record_from_values(values: dict[str, str], where: str) -> Record:
    """A record from attribute name → value (names any case); ``where`` starts error messages."""
    keys = [k.lower() for k in values]
    values = {k.lower(): " ".join(str(v).split()) for k, v in values.items()
              if v is not None and str(v).strip()}
    name_key = next((k for k in NAME_KEYS if k in keys), None)
    if name_key is None and keys and not PLACE_KEYS & set(keys):
        name_key = keys[0]  # another domain's set: its first attribute names the record
    if name_key is None or name_key not in values:
        raise DataError(f"{where}: the record has no name", field="name",
                        fix="give every record a non-empty 'name' (or 'title') attribute")
    lat = _coordinate(values, LAT_KEYS, 90.0, where)
    lon = _coordinate(values, LON_KEYS, 180.0, where)
    if (lat is None) != (lon is None):
        lat = lon = None  # half a coordinate locates nothing: treat as unknown
    address = next((values[k] for k in ADDRESS_KEYS if k in values), "")
    postal = next((values[k] for k in POSTAL_KEYS if k in values), "")
    other = {k: v for k, v in values.items() if k not in PLACE_KEYS and k != name_key}
    return Record(values[name_key], lat, lon, address, postal, other)


def parse_record(text: str, where: str = "record") -> Record:
    """One serialised record (``COL name VAL … COL latitude VAL …``)."""
    text = text.strip()
    if not text.startswith("COL "):
        raise DataError(f"{where} does not start with 'COL <attribute> VAL'", field="pairs",
                        fix=_FORMAT_FIX)
    parts = _ATTRIBUTE.split(text)
    # parts = ["", attr1, value1, attr2, value2, ...]
    values: dict[str, str] = {}
    for key, value in zip(parts[1::2], parts[2::2], strict=True):
        values.setdefault(key, value.strip())
    return record_from_values(values, where)


def _open_lines(path: Path) -> Iterable[str]:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener: Any = gzip.open if gzipped else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            yield from handle
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(f"{path} cannot be read as UTF-8 text ({exc})", field="pairs",
                        fix="give a UTF-8 text file, plain or gzip-compressed") from None


def read_pairs(path: str | Path, *, require_labels: bool = False) -> PairSet:
    """Read a pair file (plain or gzip).

    Args:
        path: the file.
        require_labels: fail when the file has no label column (training, evaluation).

    Raises:
        DataError: no such file, an empty file, a malformed line (which, and why), a record
            without a name, coordinates out of range, labels other than 0/1 or on some lines only.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no file at {path}", field="pairs", fix="give a pair file (.txt or "
                                                                 ".txt.gz)")
    left: list[Record] = []
    right: list[Record] = []
    labels: list[int] = []
    lines: list[int] = []
    for index, line in enumerate(_open_lines(path)):
        if not line.strip():
            continue
        where = f"{path.name} line {index + 1}"
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) not in (2, 3):
            raise DataError(f"{where} has {len(fields)} tab-separated fields, not 2 or 3",
                            field="pairs", fix=_FORMAT_FIX)
        has_label = len(fields) == 3
        if lines and has_label != bool(labels):
            raise DataError(f"{where} {'has' if has_label else 'lacks'} a label, unlike line "
                            f"{lines[0] + 1}", field="pairs",
                            fix="label every line (0 or 1) or none")
        if has_label:
            if fields[2].strip() not in ("0", "1"):
                raise DataError(f"{where}: the label is {fields[2].strip()!r}, not 0 or 1",
                                field="label", fix="write 1 for a match, 0 otherwise")
            labels.append(int(fields[2].strip()))
        left.append(parse_record(fields[0], f"{where}, first record"))
        right.append(parse_record(fields[1], f"{where}, second record"))
        lines.append(index)
    if not lines:
        raise DataError(f"{path} holds no pairs", field="pairs",
                        fix="give a file with one pair per line")
    pairs = PairSet(left, right, np.asarray(labels, dtype=np.int8) if labels else None,
                    np.asarray(lines), source=path.name)
    if require_labels:
        pairs.require_labels("this step")
    return pairs


def read_records(path: str | Path, *, id_column: str = "id") -> tuple[list[str], list[Record]]:
    """A table of records (CSV, one column per attribute) for linking: ids and records.

    Raises:
        DataError: no file, no rows, a duplicate or empty id, a record without a name, bad
            coordinates (each naming the row).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no file at {path}", field="records", fix="give a CSV file")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if frame.empty:
        raise DataError(f"{path} holds no records", field="records", fix="give a non-empty CSV")
    if id_column not in frame.columns:
        frame.insert(0, id_column, [str(i) for i in range(len(frame))])
    ids = frame[id_column].astype(str).tolist()
    seen: dict[str, int] = {}
    for row, record_id in enumerate(ids, start=2):
        if not record_id.strip():
            raise DataError(f"{path.name} row {row} has an empty {id_column}", field=id_column,
                            fix="give every record an id")
        if record_id in seen:
            raise DataError(f"{path.name} rows {seen[record_id]} and {row} share the "
                            f"{id_column} {record_id!r}", field=id_column, fix="make ids unique")
        seen[record_id] = row
    columns = [c for c in frame.columns if c != id_column]
    records = [record_from_values(dict(zip(columns, values, strict=True)),
                                  f"{path.name} row {row}")
               for row, values in enumerate(frame[columns].itertuples(index=False), start=2)]
    return ids, records
