"""Filter an item table by metadata (``{"city": "Osaka", "category": "hotel"}``), one way for all.

Every system that serves items (next-item recommendations, similar items) narrows its answer
with the same request filters, so they share one meaning:

* **Matching** is exact after normalising both sides: surrounding spaces stripped, Unicode NFKC
  (full-width and half-width forms agree) and ``casefold`` (``"osaka"`` finds ``"Osaka"``).
  A user typing a city does not think of case or stray spaces as part of it, while prefix or
  fuzzy matching would let ``"Osaka"`` quietly match ``"Osaka-shi"``, a different place.
* **Multi-valued cells** (``"Comedy|Drama"``, as MovieLens genres are stored) match when any of
  their ``|``-separated values matches, so ``genres=Drama`` means "a drama".
* **Numeric columns** compare as numbers: ``year=1995`` matches ``1995`` and ``1995.0`` (a
  column with gaps is stored as floats). A value that is not a number matches nothing.
* **Missing metadata never matches**: an item without a city is not in any city.
* **Several filters** must all hold (AND); there is one value per field.
* **An unknown field** is a ``DataError`` naming ``filters.<field>`` and listing the known
  fields: it is a mistake in the request, and silently ignoring it would serve unfiltered items.
  So is an empty value.
* **No matching item is an empty result, not an error**: a filter is a query, and "nothing in
  this city" is a valid answer (as in SQL or a search engine); the caller decides how to show
  it, and a request whose filters each match something but not together behaves the same way.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from recstack.errors import DataError

__all__ = ["MULTI_VALUE_SEPARATOR", "MetadataFilter", "filter_mask", "normalise_value"]

MULTI_VALUE_SEPARATOR = "|"


def normalise_value(value: Any) -> str:
    """The form both sides are compared in: stripped, NFKC, casefolded text."""
    return unicodedata.normalize("NFKC", str(value)).strip().casefold()


class MetadataFilter:
    """Boolean masks over the rows of an item table for request filters.

    Built once per table (a served bundle keeps one); each field's lookup is built on first
    use, so a request costs a dictionary lookup plus a mask of the item count.

    Args:
        items: the item table, one row per item.
        fields: the columns one may filter on; default every column but ``item_id``.
    """

    def __init__(self, items: pd.DataFrame, fields: Sequence[str] | None = None):
        self.fields = [str(c) for c in (fields if fields is not None else items.columns)
                       if c != "item_id"]
        self._items = items
        self._n = len(items)
        self._text: dict[str, dict[str, np.ndarray]] = {}  # field -> value -> matching rows
        self._numbers: dict[str, np.ndarray] = {}  # numeric fields as float64

    def mask(self, filters: Mapping[str, Any] | None) -> np.ndarray:
        """Rows ``(n_items,)`` that satisfy every filter; all ``True`` when there is none.

        Raises:
            DataError: a field the items do not have, or an empty value (``filters.<field>``).
        """
        allowed = np.ones(self._n, dtype=bool)
        for name, value in (filters or {}).items():
            allowed &= self._field_mask(str(name), value)
        return allowed

    def _field_mask(self, name: str, value: Any) -> np.ndarray:
        if name not in self.fields:
            raise DataError(f"the items have no field {name!r} to filter on",
                            field=f"filters.{name}",
                            fix=f"filter on one of: {', '.join(self.fields) or '(none)'}")
        wanted = normalise_value(value) if value is not None else ""
        if not wanted:
            raise DataError("empty filter value", field=f"filters.{name}",
                            fix=f"give a value for {name!r} or leave the filter out")
        column = self._items[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            return self._number_mask(name, column, wanted)
        if name not in self._text:
            self._text[name] = _value_rows(column)
        mask = np.zeros(self._n, dtype=bool)
        mask[self._text[name].get(wanted, _NO_ROWS)] = True
        return mask

    def _number_mask(self, name: str, column: pd.Series, wanted: str) -> np.ndarray:
        if name not in self._numbers:
            self._numbers[name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        try:
            number = float(wanted)
        except ValueError:
            return np.zeros(self._n, dtype=bool)
        return self._numbers[name] == number  # NaN (missing) never equals a number


_NO_ROWS = np.zeros(0, dtype=np.int64)


def _value_rows(column: pd.Series) -> dict[str, np.ndarray]:
    """Normalised value -> positions of the rows holding it (multi-valued cells split)."""
    text = column.reset_index(drop=True).astype("string")
    exploded = text.str.split(MULTI_VALUE_SEPARATOR, regex=False).explode()
    parts = exploded.astype("string").str.normalize("NFKC").str.strip().str.casefold()
    parts = parts[parts.notna() & (parts != "")]
    positions = parts.index.to_numpy(dtype=np.int64)
    return {str(value): np.unique(positions[rows])
            for value, rows in parts.groupby(parts.to_numpy(dtype=object)).indices.items()}


def filter_mask(items: pd.DataFrame, filters: Mapping[str, Any] | None,
                fields: Sequence[str] | None = None) -> np.ndarray:
    """One-off ``MetadataFilter(items, fields).mask(filters)``; see the module docstring."""
    return MetadataFilter(items, fields).mask(filters)
