"""Text ↔ tensors for the joint encoder, without torch: tokens, BIO labels, hints, decoding.

:class:`JointCodec` is everything around the network: it turns questions into token ids, the
gazetteer hint of each token and (for training) BIO labels, and turns the network's intent and
token logits back into :class:`~recstack.nlu.schema.Parse` objects. The PyTorch model
(:mod:`recstack.nlu.joint`) and the ONNX Runtime path both run through it, so a service that
serves an exported model never imports torch (~220 MB of resident memory per worker).

Labels come from character spans through the fast tokenizer's offset mapping. **Every** sub-token
that overlaps a span carries its label (B on the one holding the span's first character, I on
the rest), not only a word's first piece: Korean particles glue onto names inside one word and
the Unigram tokenizer often cuts across the name/particle boundary (``홋카이도로`` → ``▁ 홋 카이
도로``), so a span's end is only recoverable from its last piece. Decoding takes the characters
of a tag run over the ORIGINAL text (offsets) and trims particles and edge punctuation with
:func:`recstack.text.trim_span`, keeping gazetteer names whole (``제주도`` keeps its ``도``).
"""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from recstack.errors import DataError
from recstack.nlu import _lexicon as lex
from recstack.nlu.decoding import (
    DEFAULT_HINT_REQUIRED,
    DEFAULT_SPAN_THRESHOLDS,
    bio_constraints,
    check_decoding,
    viterbi_tags,
)
from recstack.nlu.rules import GazetteerMatcher, find_entities
from recstack.nlu.schema import ENTITY_TYPES, INTENTS, Example, Parse, Span
from recstack.text import fit_particle, has_hangul, trim_span

__all__ = ["IGNORE", "LABELS", "PLACE_TYPES", "JointCodec", "align_labels", "collate",
           "content_offsets", "swap_places"]

LABELS: tuple[str, ...] = ("O", *(f"{p}-{t}" for t in ENTITY_TYPES for p in "BI"))
LABEL_ID = {label: i for i, label in enumerate(LABELS)}
IGNORE = -100  # cross-entropy's ignore_index: special tokens and bare "▁" pieces
PLACE_TYPES = ("COUNTRY", "CITY", "POI")
PAD_ID = 1  # e5's <pad>


def read_saved_state(path: Path, *, fix: str) -> dict[str, Any]:
    """A saved joint-e5's ``joint.json`` (config, labels, intents, gazetteer), refused when it
    holds another model or another label set than this version's."""
    state = json.loads(path.read_text(encoding="utf-8"))
    if state.get("model_type") != "joint-e5" or tuple(state.get("labels", ())) != LABELS \
            or tuple(state.get("intents", ())) != INTENTS:
        raise DataError(f"{path.parent} holds another model or label set", field="directory",
                        fix=fix)
    return state


def content_offsets(text: str, offsets: Sequence[tuple[int, int]], ids: Sequence[int] = (),
                    blank: int = -1) -> list[tuple[int, int]]:
    """Each token's characters without leading spaces (a Metaspace piece's offsets include the
    space before it). Special tokens and the bare ``▁`` piece (id ``blank``) become empty
    ``(s, s)``: the tokenizer gives a text-initial ``▁`` the offsets of the next character, and
    labelling both would start every first-word entity twice."""
    out = []
    for k, (start, end) in enumerate(offsets):
        if k < len(ids) and ids[k] == blank:
            start = end
        while start < end and text[start].isspace():
            start += 1
        out.append((start, end))
    return out


def align_labels(content: Sequence[tuple[int, int]], spans: Iterable[Span]) -> list[int]:
    """BIO label ids per token: every token overlapping a span carries its type."""
    spans = sorted(spans, key=lambda s: s.start)
    ids = []
    for start, end in content:
        if start >= end:
            ids.append(IGNORE)
            continue
        label = "O"
        for s in spans:
            if start < s.end and end > s.start:
                label = ("B-" if start <= s.start else "I-") + s.type
                break
        ids.append(LABEL_ID[label])
    return ids


def _pad(rows: list[list[int]], value: int) -> np.ndarray:
    width = max(len(r) for r in rows)
    return np.array([r + [value] * (width - len(r)) for r in rows], dtype=np.int64)


def collate(items: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Dynamic padding: each batch only as wide as its longest question (int64 arrays)."""
    batch = {"input_ids": _pad([i["input_ids"] for i in items], PAD_ID),
             "attention_mask": _pad([[1] * len(i["input_ids"]) for i in items], 0),
             "hints": _pad([[max(h, 0) for h in i["hints"]] for i in items], 0)}
    if "labels" in items[0]:
        batch["labels"] = _pad([i["labels"] for i in items], IGNORE)
        batch["intent"] = np.array([i["intent"] for i in items], dtype=np.int64)
    return batch


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(-1, keepdims=True)


class JointCodec:
    """Encodes questions for the joint network and decodes its logits into parses.

    Args:
        tokenizer: a fast tokenizer (``transformers.PreTrainedTokenizerFast``) with offsets;
            None for a codec that only decodes logits of questions encoded elsewhere.
        gazetteer: entity type → names: matched as per-token hints, kept whole when particles
            are trimmed, and (``gazetteer_types``) the type of a decoded place span that is a
            listed name.
        max_length: tokens kept per question.
        gazetteer_feature: compute the hints (else every hint is ``O``).
        gazetteer_types: let a listed name's list decide between country, city and POI.
        gazetteer_spans: snap decoded place spans to the listed names they overlap.
        decoding: ``"viterbi"`` (the best valid BIO sequence) or ``"argmax"`` (each token's
            own best tag; a stray ``I-`` starts a span).
        hint_required: types kept only where a rules match (gazetteer name or regex)
            overlaps the span.
        span_thresholds: type → minimum span score (mean probability of its tags).
        See :mod:`recstack.nlu.decoding` for why each step is there.
    """

    def __init__(self, tokenizer: Any, gazetteer: Mapping[str, Iterable[str]] | None, *,
                 max_length: int = 64, gazetteer_feature: bool = True,
                 gazetteer_types: bool = True, gazetteer_spans: bool = True,
                 decoding: str = "viterbi",
                 hint_required: Sequence[str] = DEFAULT_HINT_REQUIRED,
                 span_thresholds: Mapping[str, float] | None = None):
        check_decoding(decoding, hint_required, span_thresholds or {})
        self.tokenizer = tokenizer
        self.lists = {t: list(v) for t, v in (gazetteer or {}).items()}
        self.lists.setdefault("COMPANION", list(lex.COMPANIONS))
        self.max_length = max_length
        self.gazetteer_feature = gazetteer_feature
        self.gazetteer_types = gazetteer_types
        self.gazetteer_spans = gazetteer_spans
        self.decoding = decoding
        self.hint_required = frozenset(hint_required)
        self.span_thresholds = {t: float(v) for t, v in (span_thresholds or {}).items()}
        self._transition, self._start = bio_constraints(LABELS)
        self.matcher = GazetteerMatcher(self.lists)
        self.known = frozenset(n for names in self.lists.values() for n in names)
        self._known_keys = dict.fromkeys(self.known)
        self.place_type = {n: t for t in PLACE_TYPES for n in self.lists.get(t, [])}
        self.blank = tokenizer.convert_tokens_to_ids("▁") if tokenizer is not None else -1

    # Options a saved model's config holds, and their values for models saved before the
    # option existed (no snapping then; the decoding steps apply to any saved model: they
    # change no weights, and JointConfig has the same defaults, so both runtimes agree).
    OPTIONS: ClassVar[dict[str, Any]] = {"max_length": 64, "gazetteer_feature": True,
                                         "gazetteer_types": True, "gazetteer_spans": False,
                                         "decoding": "viterbi",
                                         "hint_required": DEFAULT_HINT_REQUIRED,
                                         "span_thresholds": DEFAULT_SPAN_THRESHOLDS}

    @classmethod
    def from_config(cls, tokenizer: Any, gazetteer: Mapping[str, Iterable[str]] | None,
                    config: Mapping[str, Any]) -> JointCodec:
        """The codec a model's config describes (``JointConfig`` fields, or a saved
        ``joint.json`` ``config``): the one place both runtimes build it from."""
        options = {k: config.get(k, default) for k, default in cls.OPTIONS.items()}
        return cls(tokenizer, gazetteer, **options)

    def encode(self, texts: Sequence[str], examples: Sequence[Example] | None = None
               ) -> list[dict[str, Any]]:
        """Token ids, content offsets, hint ids (and labels and intent id) of each text."""
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length,
                             return_offsets_mapping=True)
        items = []
        for k, text in enumerate(texts):
            content = content_offsets(text, enc["offset_mapping"][k], enc["input_ids"][k],
                                      self.blank)
            found = (find_entities(text, self.matcher)
                     if self.gazetteer_feature or self.hint_required else [])
            matches = found if self.gazetteer_feature else []
            hints = align_labels(content, matches) if matches else [0] * len(content)
            # What the rules matched in this text is kept whole when particles are trimmed:
            # 여름휴가 must not lose a 가 that only looks like a particle.
            item: dict[str, Any] = {"input_ids": enc["input_ids"][k], "content": content,
                                    "hints": hints, "matched": {m.text for m in matches},
                                    "places": [m for m in matches if m.type in PLACE_TYPES],
                                    "rule_spans": found}
            if examples is not None:
                item["labels"] = align_labels(content, examples[k].entities)
                item["intent"] = INTENTS.index(examples[k].intent)
            items.append(item)
        return items

    def parses(self, texts: Sequence[str], items: Sequence[dict[str, Any]],
               intent_logits: np.ndarray, token_logits: np.ndarray) -> list[Parse]:
        """Parses from one batch's logits (``(B, intents)`` and ``(B, T, labels)``)."""
        intent_p = softmax(intent_logits.astype(np.float32))
        token_p = softmax(token_logits.astype(np.float32))
        out = []
        for j, (text, item) in enumerate(zip(texts, items, strict=True)):
            if not has_hangul(text):
                # Trained on Korean questions only: its guesses on other languages are noise,
                # and the assistant's users write Korean. Said in docs/nlu.md.
                out.append(Parse(text=text, intent="other", intent_score=1.0, entities=[]))
                continue
            best = int(intent_p[j].argmax())
            n = len(item["input_ids"])
            out.append(Parse(text=text, intent=INTENTS[best],
                             intent_score=round(float(intent_p[j, best]), 6),
                             entities=self.decode(text, item["content"], token_p[j, :n],
                                                  item.get("matched", ()),
                                                  item.get("places", ()),
                                                  item.get("rule_spans", ()))))
        return out

    def _tags(self, content: Sequence[tuple[int, int]], probs: np.ndarray) -> dict[int, int]:
        """Token index → tag id, for the tokens with characters."""
        live = [i for i, (start, end) in enumerate(content) if start < end]
        if self.decoding == "argmax":
            return {i: int(probs[i].argmax()) for i in live}
        with np.errstate(divide="ignore"):
            log_probs = np.log(probs[live])
        return dict(zip(live, viterbi_tags(log_probs, self._transition, self._start),
                        strict=True))

    def decode(self, text: str, content: Sequence[tuple[int, int]], probs: np.ndarray,
               matched: Iterable[str] = (), places: Sequence[Span] = (),
               rule_spans: Sequence[Span] = ()) -> list[Span]:
        """Tags (``decoding``) → runs of B/I → character spans over ``text``, particles
        trimmed (listed names and ``matched``, the rules' matches in this text, are kept
        whole), place spans snapped to the listed ``places`` found in the text, then spans of
        ``hint_required`` types that no ``rule_spans`` overlaps and spans below their type's
        threshold dropped. A span's score is the mean probability of its tokens' tags."""
        # A view, not a union: the listed names are thousands, a question's matches a few.
        known: Collection[str] = (ChainMap(dict.fromkeys(matched), self._known_keys)
                                  if matched else self.known)
        probs = np.asarray(probs)
        groups: list[tuple[str, list[int]]] = []
        last = -1  # index of the previous token with characters
        tags = self._tags(content, probs)
        for i, (start, end) in enumerate(content):
            if start >= end:
                continue
            label = LABELS[tags[i]]
            if label == "O":
                last = i
                continue
            prefix, etype = label.split("-", 1)
            if prefix == "I" and groups and groups[-1][0] == etype and groups[-1][1][-1] == last:
                groups[-1][1].append(i)
            else:  # a B, or an I after something else: a stray I starts a span too
                groups.append((etype, [i]))
            last = i
        spans = []
        for etype, idx in groups:
            start, end = trim_span(text, content[idx[0]][0], content[idx[-1]][1], known)
            if end <= start:
                continue
            score = float(np.mean([probs[i, tags[i]] for i in idx]))
            if self.gazetteer_types and etype in PLACE_TYPES:
                # A listed name's list decides between country, city and POI: the tags mix
                # them up for unseen names, the spans they find are right far more often.
                etype = self.place_type.get(text[start:end], etype)
            spans.append(Span(type=etype, start=start, end=end, text=text[start:end],
                              score=round(score, 6)))
        if self.gazetteer_spans and places:
            spans = _snap_to_listed(spans, places)
        if self.hint_required:
            spans = [s for s in spans if s.type not in self.hint_required
                     or any(r.start < s.end and r.end > s.start for r in rule_spans)]
        if self.span_thresholds:
            spans = [s for s in spans if s.score >= self.span_thresholds.get(s.type, 0.0)]
        return spans


def _snap_to_listed(spans: list[Span], places: Sequence[Span]) -> list[Span]:
    """A place span the model found that overlaps listed names becomes those names (their
    spans and types): the tags find where places are, the list knows where a listed name ends
    (``쿠마시 라멘`` → ``쿠마시``) and whether two names were run together (``이집트 카이로``).
    Spans over no listed name (unseen POIs) stay as the model found them."""
    out: list[Span] = []
    used: set[int] = set()
    for span in spans:
        hits = [k for k, g in enumerate(places) if g.start < span.end and g.end > span.start]
        if span.type not in PLACE_TYPES or not hits:
            out.append(span)
            continue
        for k in hits:
            if k not in used:
                used.add(k)
                g = places[k]
                out.append(Span(g.type, g.start, g.end, g.text, span.score))
    return sorted(out, key=lambda s: s.start)


_WORD_END = " \t\n.,!?~"


def swap_places(example: Example, names: Mapping[str, Sequence[str]], rng: np.random.Generator,
                share: float) -> Example:
    """``example`` with each place span replaced, with probability ``share``, by a random name
    of the same type from ``names`` (the seed's slot-replacement augmentation, drawn afresh
    every epoch): the model meets each context with many names and each name in many contexts,
    so it learns where places go rather than which places the templates named. A particle that
    makes up the rest of the word is refitted to the new name (``파리를`` → ``서울을``)."""
    text, spans, pos = "", [], 0
    for span in sorted(example.entities, key=lambda s: s.start):
        pool = names.get(span.type) if span.type in PLACE_TYPES else None
        new = span.text
        if pool and rng.random() < share:
            new = pool[int(rng.integers(len(pool)))]
        text += example.text[pos:span.start]
        spans.append(Span(span.type, len(text), len(text) + len(new), new))
        text += new
        pos = span.end
        tail_end = pos
        while tail_end < len(example.text) and example.text[tail_end] not in _WORD_END:
            tail_end += 1
        tail = example.text[pos:tail_end]
        if new != span.text and tail and not any(s.start < tail_end and s.start >= pos
                                                 for s in example.entities):
            fitted = fit_particle(new, tail)
            text += fitted
            pos = tail_end
    text += example.text[pos:]
    return Example(text=text, intent=example.intent, entities=spans,
                   template=example.template, fillers=example.fillers)
