"""Decoding steps of the joint encoder's tags, torch-free (shared by PyTorch and ONNX Runtime).

Three steps turn per-token tag probabilities into fewer, better-bounded spans; each was chosen
on the validation questions (docs/nlu.md, "joint-e5: decoding"):

- :func:`viterbi_tags`: the most probable tag sequence that is valid BIO (no ``I-X`` after
  ``O`` or after another type, none at the start) instead of each token's own argmax. Argmax
  tags cut one name into pieces of different types (``와 / 두구`` for 와가두구, ``후 / 지 / 산``);
  the constrained path keeps a name whole or drops it.
- ``hint_required``: types whose values come from closed lists the rules match exactly
  (countries; dates) are kept only where a rules match overlaps them: the model's own
  countries and dates outside any match were mostly words like 동남아 or 눈.
- span thresholds: a span whose mean tag probability is below its type's threshold is dropped
  (:func:`choose_span_thresholds` picks them on validation questions; ``fit`` does it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from recstack.errors import ConfigError
from recstack.nlu.schema import ENTITY_TYPES, Example, Parse

__all__ = ["DECODINGS", "DEFAULT_HINT_REQUIRED", "DEFAULT_SPAN_THRESHOLDS",
           "THRESHOLD_GRID", "bio_constraints", "check_decoding", "choose_span_thresholds",
           "viterbi_tags"]

DECODINGS = ("argmax", "viterbi")
DEFAULT_HINT_REQUIRED: tuple[str, ...] = ("COUNTRY", "DATE")
# Chosen on the validation questions by choose_span_thresholds for the CPU-trained joint-e5 of
# docs/nlu.md (Viterbi decoding, hint_required as above); types not named keep every span.
# A model fitted with validation questions picks its own (JointConfig.tune_span_thresholds).
DEFAULT_SPAN_THRESHOLDS: dict[str, float] = {"CITY": 0.4, "POI": 0.55, "DATE": 0.65,
                                             "DURATION": 0.55, "COMPANION": 0.6}
THRESHOLD_GRID: tuple[float, ...] = (0.0, *(round(0.3 + 0.05 * k, 2) for k in range(14)))


def bio_constraints(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Log-space transition ``(L, L)`` and start ``(L,)`` scores: 0 where allowed, -inf where
    BIO forbids it (``I-X`` only after ``B-X`` or ``I-X``; no ``I-`` first)."""
    n = len(labels)
    transition = np.zeros((n, n))
    start = np.zeros(n)
    for j, label in enumerate(labels):
        if label.startswith("I-"):
            start[j] = -np.inf
            etype = label[2:]
            for i, prev in enumerate(labels):
                if prev not in (f"B-{etype}", f"I-{etype}"):
                    transition[i, j] = -np.inf
    return transition, start


def viterbi_tags(log_probs: np.ndarray, transition: np.ndarray, start: np.ndarray
                 ) -> list[int]:
    """The highest-scoring tag sequence of ``(n, L)`` log-probabilities under hard
    constraints (:func:`bio_constraints`); an empty list for ``n == 0``."""
    n = len(log_probs)
    if n == 0:
        return []
    score = start + log_probs[0]
    back = np.zeros((n, log_probs.shape[1]), dtype=np.int64)
    for k in range(1, n):
        candidates = score[:, None] + transition  # (previous, current)
        back[k] = candidates.argmax(0)
        score = candidates.max(0) + log_probs[k]
    path = [int(score.argmax())]
    for k in range(n - 1, 0, -1):
        path.append(int(back[k, path[-1]]))
    return path[::-1]


def check_decoding(decoding: str, hint_required: Sequence[str],
                   span_thresholds: Mapping[str, float]) -> None:
    """Raises ConfigError naming the field when a decoding option is not valid."""
    if decoding not in DECODINGS:
        raise ConfigError(f"unknown decoding {decoding!r}", field="decoding",
                          fix=f"use one of {', '.join(DECODINGS)}")
    unknown = sorted(set(hint_required) - set(ENTITY_TYPES))
    if unknown:
        raise ConfigError(f"unknown entity type(s) {unknown}", field="hint_required",
                          fix=f"use types from {', '.join(ENTITY_TYPES)}")
    for etype, value in span_thresholds.items():
        if etype not in ENTITY_TYPES or not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"bad span threshold {etype}={value!r}", field="span_thresholds",
                              fix=f"map types from {', '.join(ENTITY_TYPES)} to 0..1")


def choose_span_thresholds(examples: Sequence[Example], parses: Sequence[Parse], *,
                           grid: Sequence[float] = THRESHOLD_GRID, rounds: int = 2
                           ) -> dict[str, float]:
    """Per-type minimum span scores that maximise micro entity F1 (exact type and span) on
    labelled questions, by coordinate ascent over ``grid`` (types in ``ENTITY_TYPES`` order,
    ``rounds`` passes; a threshold moves only for a strict gain).

    Args:
        examples: labelled questions: VALIDATION ones, never the test set.
        parses: the model's parses of their texts, decoded WITHOUT thresholds.

    Returns:
        type → threshold, only for types whose best threshold is above 0.
    """
    n_gold = sum(len(e.entities) for e in examples)
    found: list[tuple[str, float, bool]] = []  # (type, score, correct)
    for example, parse in zip(examples, parses, strict=True):
        gold = {(s.type, s.start, s.end) for s in example.entities}
        found += [(s.type, s.score, (s.type, s.start, s.end) in gold) for s in parse.entities]
    types = np.array([ENTITY_TYPES.index(t) for t, _, _ in found], dtype=np.int64)
    scores = np.array([s for _, s, _ in found])
    correct = np.array([c for _, _, c in found], dtype=bool)

    def f1(thresholds: np.ndarray) -> float:
        kept = scores >= thresholds[types] if len(found) else np.zeros(0, dtype=bool)
        tp = int((kept & correct).sum())
        fp = int((kept & ~correct).sum())
        return 2 * tp / (2 * tp + fp + (n_gold - tp)) if n_gold + fp else 0.0

    chosen = np.zeros(len(ENTITY_TYPES))
    best = f1(chosen)
    for _ in range(rounds):
        for k in range(len(ENTITY_TYPES)):
            for value in grid:
                trial = chosen.copy()
                trial[k] = value
                score = f1(trial)
                if score > best + 1e-12:
                    best, chosen = score, trial
    return {t: float(chosen[k]) for k, t in enumerate(ENTITY_TYPES) if chosen[k] > 0}
