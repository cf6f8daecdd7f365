"""Evaluation: exact type and span, micro and per type; intent accuracy, macro-F1, confusion."""

from __future__ import annotations

import pytest

from recstack.errors import DataError
from recstack.nlu.evaluation import evaluate, score_parses
from recstack.nlu.rules import RulesNLU
from recstack.nlu.schema import Example, Parse, Span

TEXT = "가족끼리 태국 파타야에서 3박4일"
GOLD = [Span("COMPANION", 0, 2, "가족"), Span("COUNTRY", 5, 7, "태국"),
        Span("CITY", 8, 11, "파타야"), Span("DURATION", 14, 18, "3박4일")]


def _example(intent: str = "destination_recommendation") -> Example:
    return Example(text=TEXT, intent=intent, entities=list(GOLD))


def _parse(entities: list[Span], intent: str = "destination_recommendation") -> Parse:
    return Parse(text=TEXT, intent=intent, intent_score=0.9, entities=entities)


def test_gold_spans_are_the_text() -> None:
    assert [TEXT[s.start:s.end] for s in GOLD] == [s.text for s in GOLD]


def test_perfect_predictions_score_one() -> None:
    result = score_parses([_example()], [_parse(list(GOLD))])
    assert result["n"] == 1
    assert result["intent"]["accuracy"] == result["intent"]["macro_f1"] == 1.0
    ents = result["entities"]
    assert (ents["precision"], ents["recall"], ents["f1"]) == (1.0, 1.0, 1.0)
    assert (ents["tp"], ents["fp"], ents["fn"]) == (4, 0, 0)
    assert ents["per_type"]["CITY"]["f1"] == 1.0
    assert ents["per_type"]["BUDGET"]["support"] == 0


def test_off_by_one_span_is_a_false_positive_and_a_false_negative() -> None:
    wrong = Span("CITY", 8, 12, "파타야에")
    result = score_parses([_example()], [_parse([*GOLD[:2], wrong, GOLD[3]])])
    ents = result["entities"]
    assert (ents["tp"], ents["fp"], ents["fn"]) == (3, 1, 1)
    assert ents["precision"] == ents["recall"] == pytest.approx(0.75)
    assert ents["per_type"]["CITY"]["f1"] == 0.0
    assert ents["per_type"]["COUNTRY"]["f1"] == 1.0


def test_right_span_with_the_wrong_type_counts_against_both_types() -> None:
    wrong = Span("COUNTRY", 8, 11, "파타야")
    ents = score_parses([_example()], [_parse([*GOLD[:2], wrong, GOLD[3]])])["entities"]
    assert ents["per_type"]["CITY"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                        "support": 1}
    assert ents["per_type"]["COUNTRY"]["precision"] == pytest.approx(0.5)
    assert ents["per_type"]["COUNTRY"]["recall"] == 1.0
    assert ents["f1"] == pytest.approx(0.75)


def test_missing_predictions_give_zero_recall_not_an_error() -> None:
    ents = score_parses([_example()], [_parse([])])["entities"]
    assert (ents["precision"], ents["recall"], ents["f1"]) == (0.0, 0.0, 0.0)
    assert ents["fn"] == 4


def test_intent_accuracy_macro_f1_and_confusion() -> None:
    gold = ["weather", "weather", "flight", "other"]
    pred = ["weather", "flight", "flight", "other"]
    result = score_parses([_example(g) for g in gold], [_parse(list(GOLD), p) for p in pred])
    intent = result["intent"]
    assert intent["accuracy"] == pytest.approx(0.75)
    # weather P=1 R=.5 F=2/3; flight P=.5 R=1 F=2/3; other F=1
    assert intent["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert intent["confusion"]["weather"] == {"flight": 1, "weather": 1}
    assert intent["per_intent"]["flight"]["support"] == 1
    assert set(intent["per_intent"]) == {"weather", "flight", "other"}


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(DataError, match="parses"):
        score_parses([_example()], [])
    other = Parse(text="다른 문장", intent="other", intent_score=1.0, entities=[])
    with pytest.raises(DataError, match="order"):
        score_parses([_example()], [other])


def test_evaluate_parses_in_batches_and_scores(questions) -> None:
    model = RulesNLU(gazetteer={"COUNTRY": ["태국"], "CITY": ["파타야"]})
    examples = questions[:10]
    result = evaluate(model, examples, batch_size=3)
    assert result == score_parses(examples, model.parse([e.text for e in examples]))
    assert result["n"] == 10
