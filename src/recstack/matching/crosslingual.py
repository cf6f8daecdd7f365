"""Korean ↔ English place names: romanisation, consonant skeletons, place kinds and (optionally)
multilingual e5 similarity as pair features, and the ``crosslingual`` matcher that learns on them.

The seed's two databases name the same place in different scripts ("부산광역시" in the company
database, "Busan" in the global one), where every string similarity of the base features is
near zero. Here both names are brought into one alphabet first:

- **romanisation**: Hangul runs go through ``hangul-romanize`` (Revised Romanization letters,
  syllable by syllable, BSD licence), so "부산" → "busan"; Latin text is kept. Administrative
  and POI suffixes are cut off both sides (시/광역시/특별시/역/공항/국제공항, "City", "-si",
  "Station", "Airport") and remembered as the place's **kind**: "서울역" is a station,
  "Seoul" a city — similar names, different places.
- **consonant skeleton**: Korean spellings of foreign names add vowels ("로스앤젤레스" →
  "loseuaenjelleseu") and merge consonants (l/r, p/f, b/v); the skeleton drops vowels and maps
  each consonant to its class ("rsnjrs" for that, "rsnrs" for "Los Angeles").
- **e5** (``embedding=True``): the cosine of the multilingual-e5-small embeddings of the two
  names (:mod:`recstack.encoders`), computed once per distinct name.

:class:`CrossLingualFeaturizer` adds these columns to the base
:class:`~recstack.matching.features.PairFeaturizer`; :class:`CrossLingualMatcher` is the
gradient-boosted matcher on them (registered as ``crosslingual``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from recstack.errors import ConfigError
from recstack.matching.data import PairSet
from recstack.matching.features import PairFeaturizer, _pairwise
from recstack.matching.matchers import GBMMatcher

__all__ = ["KINDS", "ROMAN_BLOCKER", "CrossLingualFeaturizer", "CrossLingualMatcher",
           "E5Similarity", "e5_candidates", "fold", "place_kind", "roman_candidates", "romanize",
           "skeleton", "split_kind"]

_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")
# Kind → suffixes that mark it, longest first (so 국제공항 wins over 공항). Korean suffixes may be
# glued to the name ("부산역"); English ones follow a space or a hyphen ("Goyang-si").
KINDS = ("city", "station", "airport")
Suffixes = tuple[tuple[str, tuple[str, ...]], ...]
_KO_SUFFIXES: Suffixes = (("airport", ("국제공항", "공항")), ("station", ("기차역", "역")),
                ("city", ("특별자치시", "특별시", "광역시", "시")))
_EN_SUFFIXES: Suffixes = (("airport", ("international airport", "airport", "intl airport")),
                ("station", ("railway station", "train station", "rail station", "station")),
                ("city", ("metropolitan city", "special city", "city", "si", "shi")))
# Consonant classes after romanisation: sounds a Korean spelling of a foreign name merges.
_DIGRAPHS = (("tch", "j"), ("ch", "j"), ("sh", "s"), ("th", "d"), ("ph", "b"), ("kh", "g"),
             ("gh", "g"), ("ck", "g"), ("ng", "n"), ("ts", "j"), ("dz", "j"))
_CLASSES = str.maketrans({"l": "r", "p": "b", "f": "b", "v": "b", "t": "d", "k": "g",
                          "c": "g", "q": "g", "z": "j", "x": "s"})
_DROPPED = re.compile(r"[aeiouyhw\W\d_]+")


@lru_cache(maxsize=1)
def _transliter() -> Any:
    try:
        from hangul_romanize import Transliter
        from hangul_romanize.rule import academic
    except ModuleNotFoundError:
        raise ConfigError("Korean romanisation needs hangul-romanize, which is not installed",
                          field="extra 'nlu'",
                          fix="pip install -e '.[nlu]' (or `make install`)"
                          ) from None
    return Transliter(academic)


# Latin letters that Unicode does not decompose into a base letter and a mark.
_FOLD = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i",
                       "þ": "th", "ð": "d", "ħ": "h"})


def fold(text: str) -> str:
    """Lower case without diacritics (``"Wałbrzych"`` → ``"walbrzych"``, ``"Kotā"`` →
    ``"kota"``); non-Latin scripts are kept."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=200_000)
def romanize(text: str) -> str:
    """``text`` in lower-case Latin letters: Hangul runs romanised (Revised Romanization),
    Latin letters folded (no diacritics), everything else kept (``"서울 Tower"`` →
    ``"seoul tower"``)."""
    if not _HANGUL_RUN.search(text):
        return fold(text)
    transliter = _transliter()
    # Letter by letter, without the sound changes of official romanisation: foreign names
    # spelt in Hangul keep their letters ("로스앤젤레스" → "loseuaenjelleseu", near "los
    # angeles"). The rule marks ambiguous syllable joins with "-": not part of the name.
    return fold(_HANGUL_RUN.sub(lambda m: transliter.translit(m.group()).replace("-", ""),
                                text))


def split_kind(name: str) -> tuple[str, str]:
    """(base name, kind) with the kind's suffix cut off: ``"부산광역시"`` → ``("부산", "city")``,
    ``"Incheon International Airport"`` → ``("Incheon", "airport")``, ``"Paris"`` →
    ``("Paris", "")``. A suffix is only cut when a name of two or more letters remains, so
    "하시" stays whole."""
    text = " ".join(name.split())
    lowered = text.lower()
    for kind, suffixes in _EN_SUFFIXES:
        for suffix in suffixes:
            for sep in (" ", "-"):
                if lowered.endswith(sep + suffix) and len(text) - len(suffix) - 1 >= 2:
                    return text[:-len(suffix) - 1].strip(" -"), kind
    for kind, suffixes in _KO_SUFFIXES:
        for suffix in suffixes:
            if text.endswith(suffix):
                base = text[:-len(suffix)].strip()
                if len(base) >= 2:
                    return base, kind
    return text, ""


def place_kind(name: str) -> str:
    """The kind a name's suffix marks (``"city"``, ``"station"``, ``"airport"``) or ``""``."""
    return split_kind(name)[1]


@lru_cache(maxsize=200_000)
def skeleton(text: str) -> str:
    """Consonant classes of the romanised text, vowels dropped, repeats merged
    (``"로스앤젤레스"`` and ``"Los Angeles"`` → ``"rsnjrs"``)."""
    out = romanize(text).replace(" ", "")
    for digraph, replacement in _DIGRAPHS:
        out = out.replace(digraph, replacement)
    out = _DROPPED.sub("", out.translate(_CLASSES))
    return re.sub(r"(.)\1+", r"\1", out)


def _script(text: str) -> int:
    return 1 if _HANGUL_RUN.search(text) else 0


class E5Similarity:
    """Cosine of multilingual-e5 embeddings of two names, embedding each distinct name once.

    Args:
        home: the recstack home whose encoder cache holds the converted model (None: the
            settings' home); see :func:`recstack.encoders.ensure_e5`.
        batch_size: names per forward pass.
    """

    def __init__(self, home: Any = None, batch_size: int = 128):
        self.home = home
        self.batch_size = batch_size
        self._cache: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        # The model and the cache stay out of the saved matcher; they are rebuilt on use.
        return {"home": self.home, "batch_size": self.batch_size, "_cache": {}}

    def vectors(self, names: list[str]) -> np.ndarray:
        """L2-normalised embeddings of ``names`` (float32, one row per name)."""
        missing = sorted(set(names) - self._cache.keys())
        if missing:
            from recstack.encoders import embed, load_e5

            if not hasattr(self, "_model"):
                self._model = load_e5(self.home)
            vectors = embed(*self._model, missing, prefix="query: ", batch_size=self.batch_size)
            self._cache.update(zip(missing, vectors, strict=True))
        return np.stack([self._cache[t] for t in names]) if names else np.zeros((0, 1))

    def __call__(self, left: list[str], right: list[str]) -> np.ndarray:
        a, b = self.vectors(left), self.vectors(right)
        return np.asarray((a * b).sum(axis=1), dtype=np.float64)


class CrossLingualFeaturizer(PairFeaturizer):
    """The base pair features plus romanised-name, skeleton, kind and (optionally) e5 features.

    Args:
        embedding: add ``xl_e5_cosine`` (multilingual e5; needs the ``nlu`` extra and torch).
        e5_home: the recstack home for the e5 cache (None: the settings' home).
        max_attributes: as :class:`PairFeaturizer`.
    """

    def __init__(self, *, embedding: bool = False, e5_home: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.embedding = embedding
        self.e5 = E5Similarity(e5_home) if embedding else None

    def transform(self, pairs: PairSet) -> pd.DataFrame:
        from rapidfuzz import distance, fuzz

        frame = super().transform(pairs)
        left = [split_kind(r.name) for r in pairs.left]
        right = [split_kind(r.name) for r in pairs.right]
        roman_l = [romanize(base).replace(" ", "").replace("-", "") for base, _ in left]
        roman_r = [romanize(base).replace(" ", "").replace("-", "") for base, _ in right]
        skel_l = [skeleton(base) for base, _ in left]
        skel_r = [skeleton(base) for base, _ in right]
        columns: dict[str, Any] = {
            "xl_roman_ratio": _pairwise(fuzz.ratio, roman_l, roman_r),
            "xl_roman_partial": _pairwise(fuzz.partial_ratio, roman_l, roman_r),
            "xl_roman_jaro_winkler": _pairwise(distance.JaroWinkler.normalized_similarity,
                                               roman_l, roman_r, scale=1.0),
            "xl_skeleton_ratio": _pairwise(fuzz.ratio, skel_l, skel_r),
            "xl_skeleton_partial": _pairwise(fuzz.partial_ratio, skel_l, skel_r),
            "xl_skeleton_jaro_winkler": _pairwise(distance.JaroWinkler.normalized_similarity,
                                                  skel_l, skel_r, scale=1.0),
            "xl_skeleton_equal": np.array([float(a == b) if a and b else np.nan
                                           for a, b in zip(skel_l, skel_r, strict=True)]),
            "xl_script_mismatch": np.array([abs(_script(a.name) - _script(b.name))
                                            for a, b in zip(pairs.left, pairs.right,
                                                            strict=True)], dtype=float),
        }
        # Kinds as codes (0 unmarked, 1 city, 2 station, 3 airport) and whether they conflict:
        # an unmarked name agrees with a city ("Busan" is "부산시"), not with a station.
        kind_l = np.array([KINDS.index(k) + 1 if k else 0 for _, k in left], dtype=float)
        kind_r = np.array([KINDS.index(k) + 1 if k else 0 for _, k in right], dtype=float)
        columns["xl_kind_left"], columns["xl_kind_right"] = kind_l, kind_r
        columns["xl_kind_conflict"] = (np.maximum(kind_l, 1) != np.maximum(kind_r, 1)
                                       ).astype(float)
        if self.e5 is not None:
            columns["xl_e5_cosine"] = self.e5([r.name for r in pairs.left],
                                              [r.name for r in pairs.right])
        return pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)


class CrossLingualMatcher(GBMMatcher):
    """Gradient boosting on the cross-lingual pair features (Korean ↔ English names).

    Args:
        embedding: add the e5 cosine feature (slower: one e5 pass per distinct name).
        max_iter, learning_rate, max_leaf_nodes, l2_regularization, random_state: as
            :class:`~recstack.matching.matchers.GBMMatcher`.
    """

    name = "crosslingual"

    def __init__(self, *, embedding: bool = False, max_iter: int = 400,
                 learning_rate: float = 0.05, max_leaf_nodes: int = 31,
                 l2_regularization: float = 1.0, random_state: int = 0):
        super().__init__(max_iter=max_iter, learning_rate=learning_rate,
                         max_leaf_nodes=max_leaf_nodes, l2_regularization=l2_regularization,
                         random_state=random_state)
        self.embedding = embedding

    def new_featurizer(self) -> PairFeaturizer:
        return CrossLingualFeaturizer(embedding=self.embedding)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "embedding": self.embedding}


ROMAN_BLOCKER = "roman"


def roman_candidates(left: list[Any], right: list[Any], config: Any) -> list[np.ndarray]:
    """Blocker: the ``name_k`` right records whose romanised base names (kind suffix cut) are
    most like each left record's, so "부산역" finds "Busan Station" across scripts."""
    from rapidfuzz import fuzz, process

    def key(record: Any) -> str:
        return romanize(split_kind(record.name)[0]).replace(" ", "")

    right_keys = [key(r) for r in right]
    k = min(config.name_k, len(right))
    out: list[np.ndarray] = []
    for start in range(0, len(left), config.chunk):
        queries = [key(r) for r in left[start:start + config.chunk]]
        scores = process.cdist(queries, right_keys, scorer=fuzz.ratio, dtype=np.uint8,
                               workers=config.workers)
        top = np.argpartition(-scores.astype(np.int16), k - 1, axis=1)[:, :k]
        out.extend(np.sort(row) for row in top)
    return out



@lru_cache(maxsize=2)
def _e5_names(home: str | None) -> E5Similarity:
    """One e5 (and its name cache) per home, kept across blocking calls of a process."""
    return E5Similarity(home)


def e5_candidates(left: list[Any], right: list[Any], config: Any) -> list[np.ndarray]:
    """Blocker: the ``name_k`` right records whose names' multilingual-e5 embeddings are
    nearest each left record's (cosine, exact: one matrix product per chunk of left records),
    so "부산광역시" finds "Busan" where no string similarity does. Needs torch (the ``nlu``
    extra); each distinct name is embedded once per process."""
    e5 = _e5_names(None if config.e5_home is None else str(config.e5_home))
    right_vectors = e5.vectors([r.name for r in right])
    k = min(config.name_k, len(right))
    out: list[np.ndarray] = []
    for start in range(0, len(left), config.chunk):
        queries = e5.vectors([r.name for r in left[start:start + config.chunk]])
        similarity = queries @ right_vectors.T  # (chunk, n_right) cosines: unit vectors
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        out.extend(np.sort(row) for row in top)
    return out
