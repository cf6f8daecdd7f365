"""The gazetteer + rules baseline: longest-match place names, regexes, weighted intent keywords.

Entities: names from the gazetteer lists (countries, cities, POIs, companions) matched longest
first at word starts, where the rest of the word must be a particle or suffix (``파타야에서`` →
``파타야``, but not ``발리`` inside ``발리케시르``); regexes for DATE, DURATION, PEOPLE and
BUDGET. Overlapping candidates: the longest span wins. Intent: the intent whose keywords
weigh most; ``other`` when no keyword and no place name points at travel.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Self

from recstack.errors import ConfigError, DataError, NotFoundError
from recstack.nlu import _lexicon as lex
from recstack.nlu.schema import ENTITY_TYPES, Example, Parse, Span

__all__ = ["GazetteerMatcher", "RulesNLU", "find_entities", "gazetteer_from_files"]

_PLACE_TYPES = ("COUNTRY", "CITY", "POI")
# Ties between equally long candidates: the more specific list wins (싱가포르 is a country
# before it is a city; a POI named like a city is the POI).
_PRIORITY = {"POI": 0, "BUDGET": 1, "PEOPLE": 2, "DURATION": 3, "DATE": 4, "COUNTRY": 5,
             "CITY": 6, "COMPANION": 7}
_SCORES = {"POI": 0.9, "COUNTRY": 0.95, "CITY": 0.9, "COMPANION": 0.85, "DATE": 0.9,
           "DURATION": 0.95, "PEOPLE": 0.9, "BUDGET": 0.95}


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


def gazetteer_from_files(folder: str | Path, *, pois: Iterable[str] = (),
                         min_population: int = 0) -> dict[str, list[str]]:
    """Reads countries and cities (Korean names) from the shared gazetteer folder.

    Args:
        folder: the folder with ``countries_ko_en.csv`` and ``cities_ko_en_geonames.csv``.
        pois: POI names to add (the data generator's lists, a catalogue).
        min_population: drop cities smaller than this (GeoNames lists towns whose Korean name
            is also a common word).

    Returns:
        ``{"COUNTRY": [...], "CITY": [...], "POI": [...], "COMPANION": [...]}``; a name is in
        one list only (countries win, except territories travellers treat as cities).
    """
    folder = Path(folder)
    paths = [folder / "countries_ko_en.csv", folder / "cities_ko_en_geonames.csv"]
    for path in paths:
        if not path.is_file():
            raise NotFoundError(f"gazetteer file {path} not found", field="folder",
                                fix="pass the shared data's gazetteer folder")
    with paths[0].open(encoding="utf-8-sig") as f:
        countries = {r["name_ko"].strip() for r in csv.DictReader(f) if r["name_ko"].strip()}
    countries |= set(lex.EXTRA_COUNTRIES)
    cities: set[str] = set(lex.EXTRA_CITIES)
    with paths[1].open(encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            if int(float(row["population"] or 0)) < min_population:
                continue
            for name in row["names_ko"].split("|"):
                name = name.strip()
                cities.add(name)
                if name.endswith((" 시", "시")) and len(name) > 3:
                    cities.add(name.removesuffix("시").strip())  # 오사카 시 → 오사카
    cities |= countries & lex.CITY_LIKE_COUNTRIES
    countries -= lex.CITY_LIKE_COUNTRIES
    cities -= countries

    def keep(name: str) -> bool:
        return (len(name) >= 2 or name in {"괌"}) and name not in lex.GAZETTEER_STOPWORDS

    return {"COUNTRY": sorted(filter(keep, countries)), "CITY": sorted(filter(keep, cities)),
            "POI": sorted({p.strip() for p in pois if p.strip()}),
            "COMPANION": list(lex.COMPANIONS)}


class GazetteerMatcher:
    """Longest match of listed names at word starts, with a particle or nothing after them."""

    def __init__(self, gazetteer: Mapping[str, Iterable[str]]):
        self.names: dict[str, str] = {}
        for etype in sorted(gazetteer, key=lambda t: -_PRIORITY.get(t, 9)):
            if etype not in ENTITY_TYPES:
                raise ConfigError(f"unknown entity type {etype!r}", field="gazetteer",
                                  fix=f"use keys from {', '.join(ENTITY_TYPES)}")
            for name in gazetteer[etype]:
                self.names[name] = etype  # the higher-priority type is written last and wins
        self.max_len = max((len(n) for n in self.names), default=0)

    def _tail_ok(self, text: str, end: int) -> bool:
        rest_end = end
        while rest_end < len(text) and _is_word_char(text[rest_end]):
            rest_end += 1
        rest = text[end:rest_end]
        return not rest or rest.startswith(lex.PARTICLES)

    def find(self, text: str) -> list[tuple[str, int, int]]:
        """All candidate ``(type, start, end)`` matches (overlaps included)."""
        found = []
        for start in range(len(text)):
            if not _is_word_char(text[start]) or (start and _is_word_char(text[start - 1])):
                continue
            for end in range(min(len(text), start + self.max_len), start, -1):
                etype = self.names.get(text[start:end])
                if etype is not None and self._tail_ok(text, end):
                    found.append((etype, start, end))
                    break
        return found


def _regex_candidates(text: str) -> list[tuple[str, int, int]]:
    found = []
    for etype, patterns in lex.COMPILED.items():
        for pattern in patterns:
            for m in pattern.finditer(text):
                start, end = m.start(), m.end()
                while end > start and text[end - 1].isspace():
                    end -= 1
                # A number glued to a preceding word or digit is part of something else.
                if end > start and not (start and text[start - 1].isdigit()):
                    found.append((etype, start, end))
    return found


@functools.cache
def _companion_matcher() -> GazetteerMatcher:
    return GazetteerMatcher({"COMPANION": lex.COMPANIONS})


def find_entities(text: str, matcher: GazetteerMatcher | None = None) -> list[Span]:
    """Gazetteer and regex entities in ``text``, overlaps resolved longest-first.

    Args:
        text: the question.
        matcher: the gazetteer lists to match; None matches the built-in companions only.
    """
    matcher = matcher or _companion_matcher()
    candidates = _regex_candidates(text) + matcher.find(text)
    candidates.sort(key=lambda c: (-(c[2] - c[1]), _PRIORITY[c[0]], c[1]))
    taken: list[tuple[str, int, int]] = []
    for cand in candidates:
        if all(cand[2] <= t[1] or cand[1] >= t[2] for t in taken):
            taken.append(cand)
    return [Span(type=t, start=s, end=e, text=text[s:e], score=_SCORES[t])
            for t, s, e in sorted(taken, key=lambda c: c[1])]


class RulesNLU:
    """Gazetteer + regex entities and weighted keyword intents.

    Args:
        gazetteer: entity type → names (``gazetteer_from_files`` builds it from the shared
            data); COMPANION defaults to the built-in list when absent.
        learn_weights: whether ``fit`` rescales keyword weights by their precision in the data.
        min_intent_score: total keyword weight below which a text with no place name is
            ``other``.
    """

    def __init__(self, *, gazetteer: Mapping[str, Iterable[str]] | None = None,
                 learn_weights: bool = True, min_intent_score: float = 1.5):
        self.gazetteer = gazetteer
        self.learn_weights = learn_weights
        self.min_intent_score = min_intent_score

    # -- state -------------------------------------------------------------------------------
    def _lists(self) -> dict[str, list[str]]:
        lists = {t: list(v) for t, v in (self.gazetteer or {}).items()}
        lists.setdefault("COMPANION", list(lex.COMPANIONS))
        return lists

    def _ensure_ready(self) -> None:
        if not hasattr(self, "matcher_"):
            self.matcher_ = GazetteerMatcher(self._lists())
        if not hasattr(self, "weights_"):
            self.weights_ = {i: [w for _, w in kws] for i, kws in lex.INTENT_KEYWORDS.items()}
        if not hasattr(self, "patterns_"):
            self.patterns_ = {i: [re.compile(p, re.IGNORECASE) for p, _ in kws]
                              for i, kws in lex.INTENT_KEYWORDS.items()}

    def fit(self, examples: list[Example], valid: list[Example] | None = None) -> Self:
        """Rescales each keyword's weight by its smoothed precision for its intent.

        A keyword that fires as often for other intents as for its own (``추천``) loses weight;
        one that always means its intent keeps up to twice its hand-set weight.
        """
        for attr in ("matcher_", "weights_", "patterns_"):
            self.__dict__.pop(attr, None)
        self._ensure_ready()
        if not self.learn_weights or not examples:
            return self
        for intent, kws in lex.INTENT_KEYWORDS.items():
            for k, (_, base) in enumerate(kws):
                pattern = self.patterns_[intent][k]
                hits = [e.intent for e in examples if pattern.search(e.text)]
                if hits:
                    precision = (hits.count(intent) + 1) / (len(hits) + 2)
                    self.weights_[intent][k] = base * 2 * precision
        return self

    # -- inference ---------------------------------------------------------------------------
    def _intent(self, text: str, entities: list[Span]) -> tuple[str, float]:
        scores = {intent: sum(w for p, w in zip(self.patterns_[intent], self.weights_[intent],
                                                strict=True) if p.search(text))
                  for intent in self.patterns_}
        best = max(scores, key=lambda i: scores[i])  # dict order breaks ties: specific first
        total = sum(scores.values())
        has_place = any(s.type in _PLACE_TYPES for s in entities)
        if scores[best] < self.min_intent_score:
            if has_place:  # "파타야 어때?" is about a destination even without a keyword
                return "destination_recommendation", 0.5
            return "other", 1.0 - scores[best] / (2 * self.min_intent_score)
        # Share of the evidence, shrunk when the evidence is thin.
        confidence = scores[best] / total * (1 - math.exp(-scores[best] / 3))
        return best, float(min(1.0, max(0.0, confidence)))

    def parse(self, texts: list[str]) -> list[Parse]:
        """Parses a batch of texts; empty or blank text is ``other`` with no entities."""
        self._ensure_ready()
        parses = []
        for text in texts:
            if not text or not text.strip():
                parses.append(Parse(text=text, intent="other", intent_score=1.0, entities=[]))
                continue
            entities = find_entities(text, self.matcher_)
            intent, score = self._intent(text, entities)
            parses.append(Parse(text=text, intent=intent, intent_score=score, entities=entities))
        return parses

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """Writes ``rules.json``: hyper-parameters, gazetteer lists and keyword weights."""
        self._ensure_ready()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {
            "model_type": "rules", "learn_weights": self.learn_weights,
            "min_intent_score": self.min_intent_score, "gazetteer": self._lists(),
            "keywords": {i: [[p, w] for (p, _), w in zip(lex.INTENT_KEYWORDS[i],
                                                          self.weights_[i], strict=True)]
                         for i in self.weights_}}
        (directory / "rules.json").write_text(json.dumps(state, ensure_ascii=False),
                                              encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Reads a model written by :meth:`save`."""
        path = Path(directory) / "rules.json"
        if not path.is_file():
            raise NotFoundError(f"{path} not found", field="directory",
                                fix="pass a folder written by RulesNLU.save")
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("model_type") != "rules":
            raise DataError(f"{path} holds a {state.get('model_type')!r} model",
                            field="directory", fix="load it with its own class")
        model = cls(gazetteer=state["gazetteer"], learn_weights=state["learn_weights"],
                    min_intent_score=state["min_intent_score"])
        model._ensure_ready()
        model.patterns_ = {i: [re.compile(p, re.IGNORECASE) for p, _ in kws]
                           for i, kws in state["keywords"].items()}
        model.weights_ = {i: [float(w) for _, w in kws] for i, kws in state["keywords"].items()}
        return model
