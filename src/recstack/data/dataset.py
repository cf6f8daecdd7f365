"""Canonical in-memory forms of interaction data.

``Interactions`` is the raw, time-stamped event table every loader returns. ``SequenceDataset``
is the encoded form the recommenders train on: items get internal ids 1..n_items (0 is padding)
and every user becomes one time-ordered sequence of internal ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recstack.errors import DataError

INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp")


@dataclass(frozen=True)
class Interactions:
    """Events (user, item, time) plus optional item metadata.

    Attributes:
        name: short dataset name, used in run names and reports.
        events: columns ``user_id`` (str), ``item_id`` (str), ``timestamp`` (int64, seconds or
            any monotone clock); sorted by user then time, stable for equal times.
        items: optional item metadata, one row per ``item_id`` (str), other columns free.
    """

    name: str
    events: pd.DataFrame
    items: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        missing = [c for c in INTERACTION_COLUMNS if c not in self.events.columns]
        if missing:
            raise DataError(
                f"the event table lacks column(s) {missing}; it has {list(self.events.columns)}",
                field=missing[0],
                fix="name the columns user_id, item_id and timestamp (or map them when loading)",
            )
        if self.items is not None and "item_id" not in self.items.columns:
            raise DataError("the item table has no item_id column", field="item_id",
                            fix="add an item_id column to the item metadata")

    @property
    def n_events(self) -> int:
        return len(self.events)


@dataclass(frozen=True)
class SequenceDataset:
    """Users as time-ordered sequences of internal item ids.

    Attributes:
        name: dataset name.
        item_ids: external item ids; internal id ``i`` (1-based) is ``item_ids[i - 1]``.
        user_ids: external user ids, one per sequence.
        sequences: one int64 array of internal ids per user, oldest first.
        item_metadata: optional frame indexed by internal id (1..n_items), one column per field.
        timestamps: optional per-user arrays aligned with ``sequences`` (needed by temporal splits).
    """

    name: str
    item_ids: np.ndarray
    user_ids: np.ndarray
    sequences: list[np.ndarray]
    item_metadata: pd.DataFrame | None = None
    timestamps: list[np.ndarray] | None = None
    _item_index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.user_ids) != len(self.sequences):
            raise DataError("user_ids and sequences differ in length", field="sequences")
        if not self._item_index:
            # Frozen dataclass: build the lookup once at construction.
            object.__setattr__(self, "_item_index",
                               {str(x): i + 1 for i, x in enumerate(self.item_ids)})

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_interactions(self) -> int:
        return int(sum(len(s) for s in self.sequences))

    def encode_items(self, external: list[str] | np.ndarray) -> np.ndarray:
        """Map external item ids to internal ids; raises DataError naming unknown ids."""
        unknown = [str(x) for x in external if str(x) not in self._item_index]
        if unknown:
            raise DataError(f"unknown item id(s) {unknown[:5]}", field="item_id",
                            fix="use item ids that appear in the training data")
        return np.array([self._item_index[str(x)] for x in external], dtype=np.int64)

    def decode_items(self, internal: np.ndarray) -> np.ndarray:
        """Map internal ids (1-based) back to external ids."""
        return self.item_ids[np.asarray(internal, dtype=np.int64) - 1]

    @classmethod
    def from_interactions(cls, data: Interactions) -> SequenceDataset:
        """Encode events: items sorted by id get 1..n, each user's events in time order."""
        events = data.events
        # Factorise on the original dtype so numeric ids keep numeric order (user 2 before 10).
        user_codes, user_ids = pd.factorize(events["user_id"], sort=True)
        item_codes, item_ids = pd.factorize(events["item_id"], sort=True)
        times = events["timestamp"].to_numpy(dtype=np.int64)
        order = np.lexsort((times, user_codes))  # stable: equal times keep file order
        user_codes, times = user_codes[order], times[order]
        internal = item_codes[order].astype(np.int64) + 1
        bounds = np.flatnonzero(np.diff(user_codes)) + 1
        sequences = np.split(internal, bounds)
        timestamps = np.split(times, bounds)
        item_strs = np.asarray([str(x) for x in item_ids], dtype=object)
        user_strs = np.asarray([str(x) for x in user_ids], dtype=object)
        metadata = None
        if data.items is not None:
            meta = data.items.assign(item_id=data.items["item_id"].astype(str))
            meta = meta.drop_duplicates("item_id").set_index("item_id")
            metadata = meta.reindex(item_strs)
            metadata.index = pd.RangeIndex(1, len(item_ids) + 1, name="internal_id")
        return cls(name=data.name, item_ids=item_strs, user_ids=user_strs, sequences=sequences,
                   item_metadata=metadata, timestamps=list(timestamps))
