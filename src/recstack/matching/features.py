"""Pair features: how alike two records' names, places, addresses and other attributes are.

:class:`PairFeaturizer` turns a :class:`~recstack.matching.data.PairSet` into one row of numbers
per pair. Name similarities come from rapidfuzz (ratio, partial ratio, token-set and token-sort
ratios, Jaro-Winkler) computed element-wise in C (``process.cpdist``), plus token overlap and
TF-IDF cosines whose weights are fitted on the training names, so a shared rare word ("Bellefield")
counts more than a shared common one ("Street", "Yokocho"). A value that cannot be computed (no
coordinates, no address) is NaN, which the matchers handle: a matcher works without coordinates.
Attributes other than the place fields (a product's price, a paper's venue) are compared
generically, so sets from other domains get features too.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from recstack.matching.data import PairSet, Record

__all__ = ["PairFeaturizer", "haversine_m"]

EARTH_RADIUS_M = 6_371_008.8
_NUMBER = re.compile(r"\d+")
MAX_ATTRIBUTES = 8  # other attributes compared, the most frequent first: bounds the width


def haversine_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
                ) -> np.ndarray:
    """Great-circle distance in metres, element-wise; NaN where a coordinate is NaN."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, single spaces (rapidfuzz's ``default_process``)."""
    from rapidfuzz.utils import default_process

    return " ".join(default_process(text).split())


def _pairwise(scorer: Any, left: list[str], right: list[str], scale: float = 100.0
              ) -> np.ndarray:
    """``scorer`` on each (left[i], right[i]) divided by ``scale`` (0..1); NaN where one text is
    empty. One thread: the callers (training, a benchmark, a request) parallelise above this."""
    from rapidfuzz import process

    scores = process.cpdist(left, right, scorer=scorer, dtype=np.float32, workers=1)
    scores = np.asarray(scores, dtype=np.float64) / scale
    empty = np.array([not a or not b for a, b in zip(left, right, strict=True)])
    scores[empty] = np.nan
    return scores


def _number_agreement(left: list[str], right: list[str]) -> np.ndarray:
    """1 when both texts carry the same numbers, 0 when their numbers differ, a share when they
    overlap, NaN when either has none (so "7-Eleven 123" vs "7-Eleven 456" counts against)."""
    out = np.full(len(left), np.nan)
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        na, nb = set(_NUMBER.findall(a)), set(_NUMBER.findall(b))
        if na and nb:
            out[i] = len(na & nb) / len(na | nb)
    return out


def _token_overlap(left: list[str], right: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Jaccard and containment (shared / smaller set) of word tokens; NaN when one is empty."""
    jaccard = np.full(len(left), np.nan)
    contain = np.full(len(left), np.nan)
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        ta, tb = set(a.split()), set(b.split())
        if ta and tb:
            shared = len(ta & tb)
            jaccard[i] = shared / len(ta | tb)
            contain[i] = shared / min(len(ta), len(tb))
    return jaccard, contain


class PairFeaturizer:
    """Fits TF-IDF weights and the attribute list on training pairs; turns pairs into features.

    Args:
        max_attributes: other (non-place) attributes compared, most frequent first.
    """

    def __init__(self, *, max_attributes: int = MAX_ATTRIBUTES):
        self.max_attributes = max_attributes

    def fit(self, pairs: PairSet) -> PairFeaturizer:
        from sklearn.feature_extraction.text import TfidfVectorizer

        names = [normalise(r.name) for r in pairs.left + pairs.right]
        self.word_tfidf_ = TfidfVectorizer(analyzer="word", token_pattern=r"\S+",
                                           sublinear_tf=True, dtype=np.float32).fit(names)
        self.char_tfidf_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4),
                                           sublinear_tf=True, dtype=np.float32).fit(names)
        vocabulary = self.word_tfidf_.vocabulary_
        self.idf_ = {token: float(self.word_tfidf_.idf_[i]) for token, i in vocabulary.items()}
        # How often each name occurs among the distinct training records: chains ("Subway",
        # "Watsons") share names across places, so for them the name alone proves little.
        distinct = {(r.name, r.lat, r.lon) for r in pairs.left + pairs.right}
        self.name_counts_ = Counter(normalise(name) for name, _, _ in distinct)
        counts = Counter(k for r in pairs.left + pairs.right for k in r.attributes)
        self.attributes_ = [k for k, _ in counts.most_common(self.max_attributes)]
        self.feature_names_ = list(self.transform(pairs.subset([0])).columns)
        return self

    def _cosine(self, vectorizer: Any, left: list[str], right: list[str]) -> np.ndarray:
        a, b = vectorizer.transform(left), vectorizer.transform(right)
        cosine = np.asarray(a.multiply(b).sum(axis=1)).ravel().astype(np.float64)
        cosine[np.array([not x or not y for x, y in zip(left, right, strict=True)])] = np.nan
        return cosine

    def _extra_idf(self, left: list[str], right: list[str]) -> np.ndarray:
        """The rarest word that only one of the names has, as IDF over the largest IDF: 0 when
        the names share every word, near 1 when one adds a distinctive word ("Pool @ Martin
        Place Residences" is not "Martin Place Residences"). NaN when a name is empty."""
        top = max(self.idf_.values(), default=1.0)
        out = np.full(len(left), np.nan)
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            ta, tb = set(a.split()), set(b.split())
            if ta and tb:
                out[i] = max((self.idf_.get(t, top) for t in ta ^ tb), default=0.0) / top
        return out

    def _name_features(self, left: list[str], right: list[str]) -> dict[str, np.ndarray]:
        columns = self._text_features("name", left, right, full=True)
        columns["name_word_tfidf"] = self._cosine(self.word_tfidf_, left, right)
        columns["name_char_tfidf"] = self._cosine(self.char_tfidf_, left, right)
        columns["name_extra_idf"] = self._extra_idf(left, right)
        columns["name_frequency"] = np.log1p([
            max(self.name_counts_.get(a, 0), self.name_counts_.get(b, 0))
            for a, b in zip(left, right, strict=True)])
        lengths = np.array([[len(a), len(b)] for a, b in zip(left, right, strict=True)],
                           dtype=float).reshape(-1, 2)
        columns["name_length_ratio"] = lengths.min(axis=1) / np.maximum(lengths.max(axis=1), 1)
        return columns

    def _text_features(self, prefix: str, left: list[str], right: list[str],
                       full: bool) -> dict[str, np.ndarray]:
        from rapidfuzz import distance, fuzz

        out = {f"{prefix}_ratio": _pairwise(fuzz.ratio, left, right),
               f"{prefix}_token_set": _pairwise(fuzz.token_set_ratio, left, right)}
        if full:
            out[f"{prefix}_partial"] = _pairwise(fuzz.partial_ratio, left, right)
            out[f"{prefix}_token_sort"] = _pairwise(fuzz.token_sort_ratio, left, right)
            out[f"{prefix}_jaro_winkler"] = _pairwise(
                distance.JaroWinkler.normalized_similarity, left, right, scale=1.0)
            out[f"{prefix}_jaccard"], out[f"{prefix}_containment"] = _token_overlap(left, right)
        out[f"{prefix}_numbers"] = _number_agreement(left, right)
        return out

    def transform(self, pairs: PairSet) -> pd.DataFrame:
        """One row per pair, columns in a fixed order (NaN where a value cannot be computed)."""
        from rapidfuzz import fuzz

        left_names = [normalise(r.name) for r in pairs.left]
        right_names = [normalise(r.name) for r in pairs.right]
        columns = self._name_features(left_names, right_names)
        columns["distance_m"] = haversine_m(*_coordinates(pairs.left), *_coordinates(pairs.right))
        columns["log_distance"] = np.log10(1.0 + columns["distance_m"])
        columns.update(self._text_features(
            "address", [normalise(r.address) for r in pairs.left],
            [normalise(r.address) for r in pairs.right], full=False))
        # A name may hold the street ("Starbucks Orchard Rd"): compare it with the other address.
        columns["name_vs_address"] = np.fmax(
            _pairwise(fuzz.partial_token_set_ratio, left_names,
                      [normalise(r.address) for r in pairs.right]),
            _pairwise(fuzz.partial_token_set_ratio, right_names,
                      [normalise(r.address) for r in pairs.left]))
        columns.update(_postal_features(pairs.left, pairs.right))
        for key in self.attributes_:
            columns.update(_attribute_features(key, pairs.left, pairs.right))
        everything = [normalise(_flatten(r)) for r in pairs.left]
        everything_right = [normalise(_flatten(r)) for r in pairs.right]
        columns.update(self._text_features("record", everything, everything_right, full=False))
        return pd.DataFrame(columns)


def _flatten(record: Record) -> str:
    """The record as one text (name, address, other values): a domain-free comparison."""
    return " ".join([record.name, record.address, *record.attributes.values()])


def _coordinates(records: list[Record]) -> tuple[np.ndarray, np.ndarray]:
    lat = np.array([np.nan if r.lat is None else r.lat for r in records], dtype=float)
    lon = np.array([np.nan if r.lon is None else r.lon for r in records], dtype=float)
    return lat, lon


def _postal_features(left: list[Record], right: list[Record]) -> dict[str, np.ndarray]:
    """Exact agreement and shared-prefix share of normalised postal codes (NaN when missing)."""
    equal = np.full(len(left), np.nan)
    prefix = np.full(len(left), np.nan)
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        pa, pb = (re.sub(r"\W", "", r.postal_code.lower()) for r in (a, b))
        if pa and pb:
            equal[i] = float(pa == pb)
            shared = next((k for k, (x, y) in enumerate(zip(pa, pb, strict=False)) if x != y),
                          min(len(pa), len(pb)))
            prefix[i] = shared / max(len(pa), len(pb))
    return {"postal_equal": equal, "postal_prefix": prefix}


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").strip().lstrip("$€£"))
    except ValueError:
        return None


def _attribute_features(key: str, left: list[Record], right: list[Record]
                        ) -> dict[str, np.ndarray]:
    """Text similarity and, for numbers, relative difference of one shared attribute."""
    from rapidfuzz import fuzz

    a = [normalise(r.attributes.get(key, "")) for r in left]
    b = [normalise(r.attributes.get(key, "")) for r in right]
    relative = np.full(len(left), np.nan)
    for i, (x, y) in enumerate(zip(left, right, strict=True)):
        nx, ny = _number(x.attributes.get(key, "")), _number(y.attributes.get(key, ""))
        if nx is not None and ny is not None:
            relative[i] = abs(nx - ny) / max(abs(nx), abs(ny), 1e-9)
    return {f"attr_{key}_ratio": _pairwise(fuzz.ratio, a, b),
            f"attr_{key}_token_set": _pairwise(fuzz.token_set_ratio, a, b),
            f"attr_{key}_relative_difference": relative}
