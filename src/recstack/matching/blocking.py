"""Blocking: which right-hand records are worth comparing with each left-hand record.

Linking two tables compares each left record with a few candidates, not with every right
record. Candidates are the union of what each blocker proposes:

- ``name``: the top-k right records by name similarity (rapidfuzz ``process.cdist``, in chunks
  of left records so memory stays bounded);
- ``geo``: the k nearest right records (or all within a radius) from a BallTree with the
  haversine metric over the right records that have coordinates (a spatial index, not a scan);
  records without coordinates get no geographic candidates.

- ``roman``: the top-k right records by romanised name (Korean ↔ English, rapidfuzz);
- ``e5``: the top-k right records by cosine of multilingual-e5 name embeddings (exact; torch).

A blocker is a function ``(left, right, config) -> list of candidate index arrays`` registered in
one table (``register_blocker``), so a new one plugs in without touching the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from recstack.errors import ConfigError
from recstack.matching.data import PairSet, Record
from recstack.matching.features import EARTH_RADIUS_M, normalise
from recstack.plugins import PluginTable

__all__ = ["BlockingConfig", "BlockingReport", "block", "blocker_names", "blocking_recall",
           "register_blocker", "tables_from_pairs"]


@dataclass
class BlockingConfig:
    """How many candidates each blocker proposes per left record."""

    blockers: tuple[str, ...] = ("name", "geo")  # united; names from the blocker table
    name_k: int = 10  # top-k right records by name similarity
    # rapidfuzz scorer for the name blocker: token_sort_ratio keeps word-order changes and is
    # ~25x faster than token_set_ratio on a full cdist, for the same recall on Geo-ER.
    name_scorer: str = "token_sort_ratio"
    geo_k: int = 10  # k nearest right records by distance
    radius_m: float | None = None  # instead of geo_k: every right record within this radius
    chunk: int = 512  # left records per name-similarity block (bounds memory: chunk × n_right)
    workers: int = 1  # rapidfuzz threads (-1: all cores)
    e5_home: str | None = None  # e5 blocker: the home whose encoder cache holds e5 (None: ours)


Blocker = Callable[[list[Record], list[Record], BlockingConfig], list[np.ndarray]]
_BLOCKERS: PluginTable[Blocker] = PluginTable("blocker", field="blockers")


def register_blocker(name: str, blocker: Blocker) -> None:
    """Add a blocker: ``register_blocker("embedding", embedding_candidates)``."""
    _BLOCKERS.add(name, blocker)


def blocker_names() -> list[str]:
    return _BLOCKERS.names()


def name_candidates(left: list[Record], right: list[Record], config: BlockingConfig
                    ) -> list[np.ndarray]:
    """The ``name_k`` right records whose names are most like each left record's name."""
    from rapidfuzz import fuzz, process

    scorer = getattr(fuzz, config.name_scorer, None)
    if scorer is None:
        raise ConfigError(f"rapidfuzz.fuzz has no scorer {config.name_scorer!r}",
                          field="name_scorer", fix="use ratio, token_sort_ratio, token_set_ratio, "
                                                   "partial_ratio or WRatio")
    right_names = [normalise(r.name) for r in right]
    k = min(config.name_k, len(right))
    out: list[np.ndarray] = []
    for start in range(0, len(left), config.chunk):
        queries = [normalise(r.name) for r in left[start:start + config.chunk]]
        scores = process.cdist(queries, right_names, scorer=scorer,
                               dtype=np.uint8, workers=config.workers)  # (chunk, n_right)
        top = np.argpartition(-scores.astype(np.int16), k - 1, axis=1)[:, :k]
        out.extend(np.sort(row) for row in top)
    return out


def geo_candidates(left: list[Record], right: list[Record], config: BlockingConfig
                   ) -> list[np.ndarray]:
    """The nearest right records (``geo_k``, or all within ``radius_m``) of each located left
    record, from a haversine BallTree; empty for records without coordinates."""
    from sklearn.neighbors import BallTree

    empty = np.empty(0, dtype=int)
    located = np.array([r.has_coordinates for r in right])
    out = [empty] * len(left)
    queries = [i for i, r in enumerate(left) if r.has_coordinates]
    if not located.any() or not queries:
        return out
    right_index = np.flatnonzero(located)
    points = np.radians(np.array([[right[i].lat, right[i].lon] for i in right_index],
                                 dtype=float))
    tree = BallTree(points, metric="haversine")
    query = np.radians(np.array([[left[i].lat, left[i].lon] for i in queries], dtype=float))
    if config.radius_m is not None:
        found: Any = tree.query_radius(query, r=config.radius_m / EARTH_RADIUS_M)
    else:
        found = tree.query(query, k=min(config.geo_k, len(right_index)),
                           return_distance=False)
    for i, neighbours in zip(queries, found, strict=True):
        out[i] = np.sort(right_index[np.asarray(neighbours, dtype=int)])
    return out


def roman_candidates(left: list[Record], right: list[Record], config: BlockingConfig
                     ) -> list[np.ndarray]:
    """Top-k by romanised name, across scripts (see
    :func:`recstack.matching.crosslingual.roman_candidates`; imported on use)."""
    from recstack.matching.crosslingual import roman_candidates as by_romanised_name

    return by_romanised_name(left, right, config)


def e5_candidates(left: list[Record], right: list[Record], config: BlockingConfig
                  ) -> list[np.ndarray]:
    """Top-k by multilingual-e5 name embedding, across scripts (see
    :func:`recstack.matching.crosslingual.e5_candidates`; imported on use: needs torch)."""
    from recstack.matching.crosslingual import e5_candidates as by_embedding

    return by_embedding(left, right, config)


_BLOCKERS.add("name", name_candidates)
_BLOCKERS.add("geo", geo_candidates)
_BLOCKERS.add("roman", roman_candidates)
_BLOCKERS.add("e5", e5_candidates)


def block(left: list[Record], right: list[Record], config: BlockingConfig | None = None
          ) -> list[np.ndarray]:
    """Candidate right indexes per left record: the union of the configured blockers'."""
    config = config or BlockingConfig()
    if not config.blockers:
        raise ConfigError("no blocker chosen", field="blockers",
                          fix=f"use some of: {', '.join(blocker_names())}")
    if not left or not right:
        return [np.empty(0, dtype=int) for _ in left]
    proposals = [_BLOCKERS.get(name)(left, right, config) for name in config.blockers]
    return [np.unique(np.concatenate(parts)).astype(int) for parts in zip(*proposals,
                                                                          strict=True)]


def _key(record: Record) -> tuple[Any, ...]:
    return (record.name, record.lat, record.lon, record.address, record.postal_code,
            tuple(sorted(record.attributes.items())))


def tables_from_pairs(pairs: PairSet) -> tuple[list[Record], list[Record], set[tuple[int, int]]]:
    """The distinct left and right records of a labelled pair file, and its matches as
    (left index, right index): a linking problem whose answers are known."""
    labels = pairs.require_labels("measuring blocking recall")
    left_ids: dict[tuple[Any, ...], int] = {}
    right_ids: dict[tuple[Any, ...], int] = {}
    left: list[Record] = []
    right: list[Record] = []
    matches: set[tuple[int, int]] = set()
    for a, b, label in zip(pairs.left, pairs.right, labels, strict=True):
        i = left_ids.setdefault(_key(a), len(left))
        if i == len(left):
            left.append(a)
        j = right_ids.setdefault(_key(b), len(right))
        if j == len(right):
            right.append(b)
        if label == 1:
            matches.add((i, j))
    return left, right, matches


@dataclass
class BlockingReport:
    recall: float  # share of true matches among the candidates
    pairs_per_record: float  # candidates per left record
    n_left: int
    n_right: int
    n_matches: int
    seconds: float


def blocking_recall(pairs: PairSet, config: BlockingConfig | None = None) -> BlockingReport:
    """Link the distinct records of a labelled pair file and measure how many true matches the
    candidates keep (positives grouped by left record) and how many pairs each record costs."""
    import time

    left, right, matches = tables_from_pairs(pairs)
    started = time.perf_counter()
    candidates = block(left, right, config)
    seconds = time.perf_counter() - started
    kept = sum(1 for i, j in matches if j in set(candidates[i].tolist()))
    total = sum(len(c) for c in candidates)
    return BlockingReport(recall=kept / max(len(matches), 1),
                          pairs_per_record=total / max(len(left), 1), n_left=len(left),
                          n_right=len(right), n_matches=len(matches), seconds=seconds)
