"""A CRF over kiwipiepy morphemes for entities, and a char n-gram classifier for intents.

Entities: each question is cut into morphemes (kiwipiepy, with character offsets into the
original text); every morpheme gets a BIO label from the character spans and a feature dict
(surface, POS tag, affixes, script, spacing, what the gazetteer and the rules' regexes say about
it, and the same for its neighbours ±2); a linear-chain CRF (sklearn-crfsuite, L-BFGS with L1+L2)
learns the labels. Predicted labels go back to character spans over the original text, with
particles, endings and punctuation at the edges dropped (``파타야에서`` → ``파타야``).

Intent: TF-IDF over character 1–4-grams (within word boundaries, so that spacing variants share
n-grams) and a logistic regression. Both parts are fitted by ``fit``.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import threading
from collections.abc import Iterable, Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple, Self

from recstack.errors import DataError, NotFoundError
from recstack.nlu import _lexicon as lex
from recstack.nlu.rules import GazetteerMatcher, find_entities
from recstack.nlu.schema import ENTITY_TYPES, Example, Parse, Span

# Taggers are cheap to call and a parse holds the lock for well under a millisecond, so one
# lock for every model is simpler than one per instance (which pickling would have to skip).
_TAGGER_LOCK = threading.Lock()

__all__ = ["CRFNLU"]

_MODEL_FILE, _INTENT_FILE, _CONFIG_FILE = "entities.crfsuite", "intent.joblib", "crf.json"
# Morphemes that never start or end an entity: particles, endings, copula, punctuation.
_EDGE_TAGS = ("J", "E", "VCP", "VCN", "SF", "SP", "SS", "SE", "SO", "SW", "XSV", "XSA")


class _Morph(NamedTuple):
    surface: str
    tag: str
    start: int
    end: int


def _script(s: str) -> str:
    if s.isdigit():
        return "digit"
    if all("가" <= c <= "힣" for c in s):
        return "hangul"
    if s.isascii() and s.isalpha():
        return "latin"
    return "other"


_KEYWORDS = [(re.compile(p, re.IGNORECASE), w)
             for kws in lex.INTENT_KEYWORDS.values() for p, w in kws]
# Content morphemes (nouns, verb and adjective stems, roots, foreign words, adverbs) for the
# intent: 먹/VV says restaurant whatever its ending.
_CONTENT_TAGS = ("NN", "NP", "VV", "VA", "XR", "SL", "MAG", "SN")


@functools.lru_cache(maxsize=4)
def _kiwi(user_words: tuple[str, ...]) -> Any:
    """One kiwipiepy tokenizer per user dictionary and process: building one and its first
    call load a language model (seconds), and a saved model reloaded in the same process
    should not pay that again."""
    from kiwipiepy import Kiwi

    kiwi = Kiwi()
    for word in user_words:  # place names stay one proper-noun morpheme
        kiwi.add_user_word(word, "NNP", 0.0)
    return kiwi


def _content_doc(morphs: list[_Morph]) -> str:
    return " ".join(m.surface.lower() for m in morphs
                    if m.tag.startswith(_CONTENT_TAGS) and not m.surface.isspace())


def _split_at(morphs: list[_Morph], cuts: set[int], text: str) -> list[_Morph]:
    """Cuts morphemes at character offsets that fall inside them (a gold span boundary kiwipiepy
    does not see: 신혼|여행지 against the span 신혼여행), so labels align with the spans."""
    out = []
    for m in morphs:
        inner = sorted(c for c in cuts if m.start < c < m.end)
        bounds = [m.start, *inner, m.end]
        if not inner:
            out.append(m)
            continue
        out.extend(_Morph(text[a:b], m.tag, a, b) for a, b in pairwise(bounds))
    return out


class CRFNLU:
    """Kiwipiepy morphemes + CRF for entities, char n-gram logistic regression for intents.

    Args:
        gazetteer: entity type → names, used as features (``gazetteer_from_files``); also
            added to kiwipiepy's user dictionary so that place names stay one morpheme.
        c1: L1 penalty of the CRF (sparse features: most surface forms are rare).
        c2: L2 penalty of the CRF.
        max_iterations: L-BFGS iterations of the CRF.
        intent_c: inverse regularisation of the intent logistic regression.
        ngram_max: longest character n-gram of the intent features.
        random_state: seed of the intent classifier's solver.
        entity_types: the tag set; spans of other types are ignored. Another set than the
            travel types (KLUE-NER's PS, LC, OG, DT, TI, QT) fits entities only: no
            gazetteer or rules features (they name travel types) and no intent classifier
            (``parse`` says ``other`` with score 0).
    """

    def __init__(self, *, gazetteer: Mapping[str, Iterable[str]] | None = None, c1: float = 0.05,
                 c2: float = 0.01, max_iterations: int = 200, intent_c: float = 20.0,
                 ngram_max: int = 4, random_state: int = 0,
                 entity_types: Iterable[str] = ENTITY_TYPES):
        self.gazetteer = gazetteer
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.intent_c = intent_c
        self.ngram_max = ngram_max
        self.random_state = random_state
        self.entity_types = tuple(entity_types)

    @property
    def _travel(self) -> bool:
        """Whether the tag set is (part of) the travel one, which the hints and intents fit."""
        return set(self.entity_types) <= set(ENTITY_TYPES)

    # -- tokenising and features -------------------------------------------------------------
    def _lists(self) -> dict[str, list[str]]:
        lists = {t: list(v) for t, v in (self.gazetteer or {}).items()}
        lists.setdefault("COMPANION", list(lex.COMPANIONS))
        return lists

    def _setup(self) -> None:
        """Builds the tokenizer and the gazetteer matcher (not learned, rebuilt on load)."""
        if hasattr(self, "kiwi_"):
            return
        lists = self._lists() if self._travel else {}
        self.matcher_ = GazetteerMatcher(lists) if self._travel else None
        words = sorted({n for t in ("COUNTRY", "CITY", "POI") for n in lists.get(t, [])
                        if n and not any(c.isspace() for c in n)})
        self.kiwi_ = _kiwi(tuple(words))

    def _morphemes(self, texts: list[str]) -> list[list[_Morph]]:
        out = []
        for text, tokens in zip(texts, self.kiwi_.tokenize(texts), strict=True):
            morphs = [_Morph(text[t.start:t.start + t.len], t.tag, t.start, t.start + t.len)
                      for t in tokens if t.len > 0]
            out.append(morphs)
        return out

    def _features(self, text: str, morphs: list[_Morph]) -> list[dict[str, Any]]:
        hints = find_entities(text, self.matcher_) if self.matcher_ is not None else []
        names = self.matcher_.names if self.matcher_ is not None else {}
        own: list[dict[str, Any]] = []
        for m in morphs:
            hint = "O"
            for s in hints:
                if m.start < s.end and m.end > s.start:
                    hint = ("B-" if m.start <= s.start else "I-") + s.type
                    break
            surface = m.surface
            own.append({
                "w": surface, "t": m.tag, "t1": m.tag[:1], "t2": m.tag[:2], "hint": hint,
                "p1": surface[:1], "p2": surface[:2], "s1": surface[-1:], "s2": surface[-2:],
                "scr": _script(surface), "len": min(len(surface), 5),
                "sp": m.start == 0 or text[m.start - 1].isspace(),
                "gaz": names.get(surface, "-"),
                "comp": self._travel and surface in lex.COMPANIONS,
                "part": surface in lex.PARTICLES,
            })
        feats = []
        for i, f in enumerate(own):
            row: dict[str, Any] = {"bias": 1.0, **f}
            for d in (-2, -1, 1, 2):
                j = i + d
                if 0 <= j < len(own):
                    row.update({f"{d}:w": own[j]["w"], f"{d}:t": own[j]["t"],
                                f"{d}:hint": own[j]["hint"], f"{d}:gaz": own[j]["gaz"]})
                else:
                    row[f"{d}:edge"] = True
            row["w|+1:t"] = f"{f['w']}|{row.get('1:t', 'EOS')}"
            row["-1:t|t"] = f"{row.get('-1:t', 'BOS')}|{f['t']}"
            feats.append(row)
        return feats

    @staticmethod
    def _labels(morphs: list[_Morph], spans: list[Span]) -> list[str]:
        labels = []
        for m in morphs:
            label = "O"
            for s in spans:
                if m.start < s.end and m.end > s.start:
                    label = ("B-" if m.start <= s.start else "I-") + s.type
                    break
            labels.append(label)
        return labels

    @staticmethod
    def _intent_features(intent: dict[str, Any], texts: list[str], morph_docs: list[str]
                         ) -> Any:
        """Char n-grams, content morphemes, and the rules' intent keywords (weighted hits):
        the keywords carry the intent when the training set is small or its phrasing narrow."""
        import numpy as np
        from scipy.sparse import csr_matrix, hstack

        hits = np.array([[w / 5.0 if p.search(t) else 0.0 for p, w in _KEYWORDS] for t in texts])
        return hstack([intent["chars"].transform(texts), intent["morphs"].transform(morph_docs),
                       csr_matrix(hits)]).tocsr()

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, examples: list[Example], valid: list[Example] | None = None) -> Self:
        """Fits the CRF on morpheme BIO labels and the intent classifier on the texts.

        Args:
            examples: labelled questions (at least two intents).
            valid: ignored (no early stopping for L-BFGS); accepted for the common protocol.
        """
        import sklearn_crfsuite
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        examples = [Example(e.text, e.intent, [s for s in e.entities
                                               if s.type in self.entity_types])
                    for e in examples if e.text.strip()]
        if self._travel and len({e.intent for e in examples}) < 2:
            raise DataError("training needs examples of at least two intents",
                            field="examples", fix="pass labelled questions of several intents")
        self._setup()
        texts = [e.text for e in examples]
        xs, ys, morph_docs = [], [], []
        for example, morphs in zip(examples, self._morphemes(texts), strict=True):
            morph_docs.append(_content_doc(morphs))
            cuts = {b for s in example.entities for b in (s.start, s.end)}
            morphs = _split_at(morphs, cuts, example.text)
            xs.append(self._features(example.text, morphs))
            ys.append(self._labels(morphs, example.entities))
        self.crf_ = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=self.c1, c2=self.c2,
                                         max_iterations=self.max_iterations,
                                         all_possible_transitions=True)
        self.crf_.fit(xs, ys)
        self.intent_: dict[str, Any] | None = None
        if not self._travel:
            return self
        intent: dict[str, Any] = {
            "chars": TfidfVectorizer(analyzer="char_wb", ngram_range=(1, self.ngram_max),
                                     sublinear_tf=True),
            "morphs": TfidfVectorizer(analyzer=str.split, lowercase=False, sublinear_tf=True),
            # newton-cg: lbfgs took 7 s for 24 iterations on 144 texts (scipy 1.17).
            "clf": LogisticRegression(C=self.intent_c, solver="newton-cg", max_iter=2000,
                                      random_state=self.random_state)}
        intent["chars"].fit(texts)
        intent["morphs"].fit(morph_docs)
        intent["clf"].fit(self._intent_features(intent, texts, morph_docs),
                          [e.intent for e in examples])
        self.intent_ = intent
        return self

    # -- inference ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "crf_"):
            raise NotFoundError("this CRFNLU has not been fitted", field="model",
                                fix="call fit(examples) or CRFNLU.load(directory) first")

    @staticmethod
    def _decode(text: str, morphs: list[_Morph], labels: list[str],
                marginals: list[dict[str, float]]) -> list[Span]:
        groups: list[tuple[str, list[int]]] = []
        for i, label in enumerate(labels):
            if label == "O":
                continue
            prefix, etype = label.split("-", 1)
            if prefix == "I" and groups and groups[-1][0] == etype and groups[-1][1][-1] == i - 1:
                groups[-1][1].append(i)
            else:  # a B, or an I with no B before it (CRFs do emit those): start a span
                groups.append((etype, [i]))
        spans = []
        for etype, idx in groups:
            while idx and morphs[idx[-1]].tag.startswith(_EDGE_TAGS):
                idx = idx[:-1]
            while idx and morphs[idx[0]].tag.startswith(_EDGE_TAGS):
                idx = idx[1:]
            if not idx:
                continue
            start, end = morphs[idx[0]].start, morphs[idx[-1]].end
            score = sum(marginals[i].get(labels[i], 0.0) for i in idx) / len(idx)
            spans.append(Span(type=etype, start=start, end=end, text=text[start:end],
                              score=round(float(score), 6)))
        return spans

    def parse(self, texts: list[str]) -> list[Parse]:
        """Parses a batch; empty or blank text is ``other`` with no entities."""
        self._check_fitted()
        self._setup()
        live = [i for i, t in enumerate(texts) if t and t.strip()]
        out = [Parse(text=t, intent="other", intent_score=1.0, entities=[]) for t in texts]
        if not live:
            return out
        live_texts = [texts[i] for i in live]
        all_morphs = self._morphemes(live_texts)
        if self.intent_ is None:  # entities only (another tag set): no intent is learned
            import numpy as np

            probs, classes = np.zeros((len(live), 1)), ["other"]
        else:
            docs = [_content_doc(m) for m in all_morphs]
            probs = self.intent_["clf"].predict_proba(
                self._intent_features(self.intent_, live_texts, docs))
            classes = list(self.intent_["clf"].classes_)
        for i, text, morphs, p in zip(live, live_texts, all_morphs, probs, strict=True):
            entities: list[Span] = []
            if morphs:
                feats = self._features(text, morphs)
                # One crfsuite Tagger per model, and it is not thread-safe: the service parses
                # in a thread pool, and two requests at once corrupted each other's tags.
                with _TAGGER_LOCK:
                    labels = self.crf_.predict_single(feats)
                    marginals = self.crf_.predict_marginals_single(feats)
                entities = self._decode(text, morphs, labels, marginals)
            best = int(p.argmax())
            out[i] = Parse(text=text, intent=str(classes[best]),
                           intent_score=round(float(p[best]), 6), entities=entities)
        return out

    # -- persistence -------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        return {"c1": self.c1, "c2": self.c2, "max_iterations": self.max_iterations,
                "intent_c": self.intent_c, "ngram_max": self.ngram_max,
                "random_state": self.random_state, "entity_types": list(self.entity_types)}

    def save(self, directory: str | Path) -> None:
        """Writes the crfsuite model file, the intent pipeline (joblib) and ``crf.json``."""
        import joblib

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.crf_.modelfile.name, directory / _MODEL_FILE)
        joblib.dump(self.intent_, directory / _INTENT_FILE)
        state = {"model_type": "crf", "config": self._config(), "gazetteer": self._lists()}
        (directory / _CONFIG_FILE).write_text(json.dumps(state, ensure_ascii=False),
                                              encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Reads a model written by :meth:`save`; the CRF file is read into memory at once."""
        import joblib
        import sklearn_crfsuite

        directory = Path(directory)
        missing = [n for n in (_MODEL_FILE, _INTENT_FILE, _CONFIG_FILE)
                   if not (directory / n).is_file()]
        if missing:
            raise NotFoundError(f"{directory} lacks {', '.join(missing)}", field="directory",
                                fix="pass a folder written by CRFNLU.save")
        state = json.loads((directory / _CONFIG_FILE).read_text(encoding="utf-8"))
        if state.get("model_type") != "crf":
            raise DataError(f"{directory} holds a {state.get('model_type')!r} model",
                            field="directory", fix="load it with its own class")
        model = cls(gazetteer=state["gazetteer"], **state["config"])
        model.crf_ = sklearn_crfsuite.CRF(model_filename=str(directory / _MODEL_FILE))
        model.crf_.tagger_  # noqa: B018 - opens the file now, so later moves cannot break it
        model.intent_ = joblib.load(directory / _INTENT_FILE)
        return model
