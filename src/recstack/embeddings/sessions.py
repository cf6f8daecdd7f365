"""Co-view corpora: click logs cut into sessions, and the held-out next-view split.

A corpus is a :class:`~recstack.data.dataset.SequenceDataset` whose "users" are sessions (travel
click logs, cut with the usual 30-minute gap rule) or whole user sequences (ML-1M-T2). Item ids
are 1..n_items and ``item_metadata`` carries the fields Meta-Prod2Vec learns from.

The evaluation split is item-to-item: for every sequence of at least three views, the last view
is the test target predicted from the view before it, and the second-to-last is the validation
target predicted from the one before that; models train on everything before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recstack.data.dataset import Interactions, SequenceDataset
from recstack.data.splits import EvalSet, leave_one_out
from recstack.errors import ConfigError, DataError
from recstack.settings import Settings

# Metadata field per known corpus: what Meta-Prod2Vec learns from and what the report colours by.
# travel: city and category (the funnel picks the next category; better on validation views)
DEFAULT_METADATA = {"travel": ("city", "category"), "ml-1m-t2": ("genres",)}
MULTI_VALUE_SEPARATOR = "|"  # MovieLens genres: "Comedy|Romance"


def sessionize(events: pd.DataFrame, gap_minutes: float = 30.0) -> pd.Series:
    """Session number per event: a new session starts after ``gap_minutes`` of silence.

    Args:
        events: ``user_id``, ``item_id`` and ``timestamp`` (epoch seconds).
        gap_minutes: the largest silence inside one session.

    Returns:
        int64 session numbers aligned with ``events``' index, increasing in (user, time).

    Raises:
        ConfigError: if ``gap_minutes`` is not positive.
        DataError: if a column is missing or a timestamp is not a number.
    """
    if not gap_minutes > 0:
        raise ConfigError(f"gap_minutes must be positive, got {gap_minutes!r}",
                          field="gap_minutes", fix="use the usual 30 minutes")
    Interactions(name="events", events=events)  # checks the three columns, naming a missing one
    if events.empty:
        raise DataError("there are no events to cut into sessions", field="events",
                        fix="pass a non-empty click log")
    times = pd.to_numeric(events["timestamp"], errors="coerce")
    if times.isna().any():
        raise DataError(f"{int(times.isna().sum())} timestamp(s) are missing or not numbers",
                        field="timestamp", fix="give epoch seconds for every event")
    users = pd.factorize(events["user_id"].astype(str))[0]
    seconds = times.to_numpy(dtype=np.int64)
    order = np.lexsort((seconds, users))  # by user, then time; stable for equal times
    starts = np.r_[True, (np.diff(users[order]) != 0)
                   | (np.diff(seconds[order]) > gap_minutes * 60)]
    numbers = np.empty(len(order), dtype=np.int64)
    numbers[order] = np.cumsum(starts) - 1
    return pd.Series(numbers, index=events.index, name="session")


def sessions_dataset(events: pd.DataFrame, items: pd.DataFrame | None, *, name: str,
                     gap_minutes: float = 30.0) -> SequenceDataset:
    """Click events cut into sessions, as a dataset with one sequence per session.

    Sessions of a single click carry no co-view signal and are dropped.

    Raises:
        DataError: if no session has two or more clicks.
    """
    sessions = sessionize(events, gap_minutes)
    frame = events.assign(user_id=sessions.map(lambda s: f"s{s:08d}"))
    sizes = frame.groupby("user_id")["item_id"].transform("size")
    frame = frame[sizes >= 2]
    if frame.empty:
        raise DataError("no session has two or more clicks", field="events",
                        fix=f"check the timestamps or raise gap_minutes (now {gap_minutes})")
    return SequenceDataset.from_interactions(Interactions(name=name, events=frame, items=items))


def load_corpus(name: str, settings: Settings, gap_minutes: float = 30.0) -> SequenceDataset:
    """A co-view corpus by name: ``travel`` (sessions) or ``ml-1m-t2`` (user sequences).

    ``travel`` is read from ``<home>/data/travel`` (generated there on first use, as
    :func:`recstack.data.catalog.load_dataset` does).
    """
    if name == "ml-1m-t2":
        from recstack.data.catalog import load_dataset

        return load_dataset(name, settings)
    if name == "travel":
        from recstack.data.catalog import load_dataset

        folder = settings.data_home / "travel"
        if not (folder / "events.parquet").exists():
            load_dataset("travel", settings)  # generates the files
        events = pd.read_parquet(folder / "events.parquet")
        products = pd.read_csv(folder / "products.csv", dtype={"item_id": str})
        return sessions_dataset(events, products, name="travel", gap_minutes=gap_minutes)
    raise DataError(f"unknown co-view corpus {name!r}", field="dataset",
                    fix="use travel or ml-1m-t2")


@dataclass(frozen=True)
class CoViewSplit:
    """Training sequences and item-to-item rows: each history is the single query item."""

    dataset: SequenceDataset
    train: list[np.ndarray]
    valid: EvalSet
    test: EvalSet
    item_counts: np.ndarray  # (n_items + 1,) training views per item id

    @property
    def n_items(self) -> int:
        return self.dataset.n_items


def next_view_split(dataset: SequenceDataset) -> CoViewSplit:
    """Hold out the last two views of every sequence of three or more (see module docstring).

    Rows whose target equals its query item (a reload) are dropped: the query item is excluded
    from the ranking, so they could never be hit.
    """
    from recstack.evaluation import count_items

    split = leave_one_out(dataset, min_length=3)
    return CoViewSplit(dataset=dataset, train=split.train, valid=_last_item_rows(split.valid),
                       test=_last_item_rows(split.test),
                       item_counts=count_items(split.train, dataset.n_items))


def _last_item_rows(rows: EvalSet) -> EvalSet:
    query = np.array([h[-1] for h in rows.histories], dtype=np.int64)
    keep = query != rows.targets
    return EvalSet(rows.users[keep], [np.array([q]) for q in query[keep]], rows.targets[keep])


def cold_rows(rows: EvalSet, item_counts: np.ndarray, max_count: int) -> EvalSet:
    """The rows whose target has at most ``max_count`` training views (cold items)."""
    cold = item_counts[rows.targets] <= max_count
    return EvalSet(rows.users[cold], [h for h, c in zip(rows.histories, cold, strict=True) if c],
                   rows.targets[cold])


def metadata_tokens(item_metadata: pd.DataFrame | None, fields: tuple[str, ...],
                    n_items: int) -> tuple[list[str], np.ndarray]:
    """Metadata vocabulary and each item's tokens, for Meta-Prod2Vec.

    Tokens are ``field=value`` (``city=Osaka``, ``genres=Comedy``); ``|``-separated values give
    one token each. Items with a missing value simply have fewer tokens (documented fallback:
    their metadata terms drop out of the loss).

    Args:
        item_metadata: frame indexed 1..n_items, or None (then every item has no tokens).
        fields: metadata columns to use.
        n_items: catalogue size.

    Returns:
        ``(vocabulary, table)``: token strings, and an ``(n_items + 1, M)`` int64 table of token
        indices into the vocabulary with ``-1`` padding (row 0 is padding).

    Raises:
        DataError: if a field is not a column of ``item_metadata``.
    """
    per_item: list[list[str]] = [[] for _ in range(n_items + 1)]
    if item_metadata is not None:
        for name in fields:
            if name not in item_metadata.columns:
                raise DataError(f"item metadata has no column {name!r}", field="metadata_fields",
                                fix=f"use some of: {', '.join(map(str, item_metadata.columns))}")
            column = item_metadata[name].reindex(range(1, n_items + 1))
            for item, value in zip(range(1, n_items + 1), column.tolist(), strict=True):
                if value is None or (isinstance(value, float) and np.isnan(value)):
                    continue
                per_item[item] += [f"{name}={v}" for v in str(value).split(MULTI_VALUE_SEPARATOR)
                                   if v]
    vocabulary = sorted({t for tokens in per_item for t in tokens})
    index = {t: i for i, t in enumerate(vocabulary)}
    width = max(1, max(len(t) for t in per_item))
    table = np.full((n_items + 1, width), -1, dtype=np.int64)
    for item, tokens in enumerate(per_item):
        table[item, :len(tokens)] = [index[t] for t in tokens]
    return vocabulary, table
