"""Evaluation of an NLU model: intent accuracy and macro-F1, entity precision/recall/F1, confusion.

Entities count as correct only with the EXACT type and the exact character span (the CoNLL
convention): a span one character off (``파타야에`` for ``파타야``) is both a false positive and a
false negative, because a downstream search with the wrong string finds nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from recstack.errors import DataError
from recstack.nlu.schema import ENTITY_TYPES, INTENTS, Example, NLUModel, Parse

__all__ = ["evaluate", "score_parses"]


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _intent_scores(gold: list[str], pred: list[str]) -> dict[str, Any]:
    confusion: dict[str, Counter[str]] = {}
    for g, p in zip(gold, pred, strict=True):
        confusion.setdefault(g, Counter())[p] += 1
    # Macro-F1 over the intents that occur in gold or predictions: an intent absent from both
    # says nothing about the model and would only add a meaningless 0 or 1.
    labels = [i for i in INTENTS if i in set(gold) | set(pred)]
    labels += sorted((set(gold) | set(pred)) - set(INTENTS))
    per_intent = {}
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, pred, strict=True))
        per_intent[label] = {**_prf(tp, fp, fn), "support": tp + fn}
    correct = sum(g == p for g, p in zip(gold, pred, strict=True))
    return {
        "accuracy": correct / len(gold) if gold else 0.0,
        "macro_f1": (sum(s["f1"] for s in per_intent.values()) / len(per_intent)
                     if per_intent else 0.0),
        "per_intent": per_intent,
        "confusion": {g: dict(sorted(c.items())) for g, c in sorted(confusion.items())},
    }


def _entity_scores(gold: list[Example], parses: list[Parse]) -> dict[str, Any]:
    counts = {t: Counter[str]() for t in ENTITY_TYPES}
    for example, parse in zip(gold, parses, strict=True):
        true = Counter((s.type, s.start, s.end) for s in example.entities)
        found = Counter((s.type, s.start, s.end) for s in parse.entities)
        for key in true | found:
            hit = min(true[key], found[key])
            c = counts.setdefault(key[0], Counter())
            c["tp"] += hit
            c["fp"] += found[key] - hit
            c["fn"] += true[key] - hit
    total = sum(counts.values(), Counter[str]())
    per_type = {t: {**_prf(c["tp"], c["fp"], c["fn"]), "support": c["tp"] + c["fn"]}
                for t, c in counts.items()}
    return {**_prf(total["tp"], total["fp"], total["fn"]), "tp": total["tp"],
            "fp": total["fp"], "fn": total["fn"], "per_type": per_type}


def score_parses(examples: Sequence[Example], parses: Sequence[Parse]) -> dict[str, Any]:
    """Scores parses against labelled examples, pairwise in order.

    Returns:
        ``{"n", "intent": {"accuracy", "macro_f1", "per_intent", "confusion"},
        "entities": {"precision", "recall", "f1", "tp", "fp", "fn", "per_type"}}``;
        ``confusion[true][predicted]`` counts examples.

    Raises:
        DataError: the two lists differ in length or a parse is for another text.
    """
    if len(examples) != len(parses):
        raise DataError(f"{len(examples)} examples but {len(parses)} parses", field="parses",
                        fix="parse every example's text once, in order")
    for example, parse in zip(examples, parses, strict=True):
        if example.text != parse.text:
            raise DataError(f"parse of {parse.text!r} paired with example {example.text!r}",
                            field="parses", fix="keep the parses in the examples' order")
    return {"n": len(examples),
            "intent": _intent_scores([e.intent for e in examples], [p.intent for p in parses]),
            "entities": _entity_scores(list(examples), list(parses))}


def evaluate(model: NLUModel, examples: Sequence[Example], batch_size: int = 256) -> dict[str, Any]:
    """Parses the examples' texts with ``model`` and scores them (see :func:`score_parses`)."""
    texts = [e.text for e in examples]
    parses: list[Parse] = []
    for i in range(0, len(texts), batch_size):
        parses.extend(model.parse(texts[i:i + batch_size]))
    return score_parses(examples, parses)
