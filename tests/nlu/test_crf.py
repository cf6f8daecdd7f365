"""The CRF over kiwipiepy morphemes: held-out quality, spans, odd input, save/load."""

from __future__ import annotations

import pytest

from recstack.errors import DataError, NotFoundError
from recstack.nlu.crf import CRFNLU, _Morph, _split_at
from recstack.nlu.evaluation import evaluate
from recstack.nlu.schema import INTENTS, Example, Span


@pytest.fixture(scope="module")
def fitted(split) -> CRFNLU:
    """Fitted on two thirds of the fixture, without the shared gazetteer (only the built-in
    companions and regexes as hints), so the test runs without shared data."""
    train, _ = split
    return CRFNLU().fit(train)


def test_held_out_intent_accuracy_and_entity_f1(fitted: CRFNLU, split) -> None:
    # Measured on this split: intent accuracy 0.81, macro-F1 0.81, entity F1 0.82.
    _, test = split
    result = evaluate(fitted, test)
    assert result["intent"]["accuracy"] >= 0.7
    assert result["entities"]["f1"] >= 0.7
    per_type = result["entities"]["per_type"]
    assert per_type["DURATION"]["f1"] >= 0.8 and per_type["DATE"]["f1"] >= 0.8


def test_held_out_entity_f1_with_the_shared_gazetteer(split, gazetteer) -> None:
    # Measured on this split: entity F1 0.96 (place names become features).
    train, test = split
    result = evaluate(CRFNLU(gazetteer=gazetteer).fit(train), test)
    assert result["entities"]["f1"] >= 0.85
    assert result["entities"]["per_type"]["CITY"]["f1"] >= 0.85


def test_parses_are_character_spans_over_the_original_text(fitted: CRFNLU, questions) -> None:
    texts = [e.text for e in questions]
    for parse in fitted.parse(texts):
        assert parse.intent in INTENTS and 0.0 <= parse.intent_score <= 1.0
        for s in parse.entities:
            assert parse.text[s.start:s.end] == s.text and 0.0 <= s.score <= 1.0


def test_decoding_drops_particles_and_starts_spans_at_stray_inside_labels() -> None:
    text = "파타야에서 3박4일"
    morphs = [_Morph("파타야", "NNP", 0, 3), _Morph("에서", "JKB", 3, 5),
              _Morph("3", "SN", 6, 7), _Morph("박", "NNB", 7, 8), _Morph("4", "SN", 8, 9),
              _Morph("일", "NNB", 9, 10)]
    labels = ["B-CITY", "I-CITY", "I-DURATION", "I-DURATION", "I-DURATION", "I-DURATION"]
    marginals = [{label: 0.8} for label in labels]
    spans = CRFNLU._decode(text, morphs, labels, marginals)
    assert [(s.type, s.text, s.start, s.end) for s in spans] == [
        ("CITY", "파타야", 0, 3), ("DURATION", "3박4일", 6, 10)]
    assert spans[0].score == pytest.approx(0.8)


def test_training_labels_follow_the_spans_even_inside_a_morpheme() -> None:
    text = "신혼여행지로"
    morphs = _split_at([_Morph("신혼", "NNG", 0, 2), _Morph("여행지", "NNG", 2, 5),
                        _Morph("로", "JKB", 5, 6)], {0, 4}, text)
    assert [m.surface for m in morphs] == ["신혼", "여행", "지", "로"]
    spans = [Span("COMPANION", 0, 4, "신혼여행")]
    assert CRFNLU._labels(morphs, spans) == ["B-COMPANION", "I-COMPANION", "O", "O"]


def test_bad_and_odd_input_does_not_crash(fitted: CRFNLU) -> None:
    long_text = "가족끼리 태국 파타야 3박4일 일정 짜줘. " * 100
    texts = ["", "  \t\n", "What is the best hotel in Bangkok?", "!!!", long_text]
    parses = fitted.parse(texts)
    assert [p.text for p in parses] == texts
    assert [(p.intent, p.entities, p.intent_score) for p in parses[:2]] == [
        ("other", [], 1.0), ("other", [], 1.0)]
    assert all(p.intent in INTENTS for p in parses)
    assert any(s.type == "DURATION" and s.text == "3박4일" for s in parses[4].entities)
    assert fitted.parse([]) == []


def test_save_load_round_trip_gives_identical_parses(fitted: CRFNLU, tmp_path, questions) -> None:
    fitted.save(tmp_path / "crf")
    loaded = CRFNLU.load(tmp_path / "crf")
    assert loaded.c1 == fitted.c1 and loaded.ngram_max == fitted.ngram_max
    texts = [e.text for e in questions[:40]]
    assert [p.to_dict() for p in loaded.parse(texts)] == [p.to_dict() for p in fitted.parse(texts)]


def test_misuse_is_refused(tmp_path) -> None:
    with pytest.raises(NotFoundError, match="fit"):
        CRFNLU().parse(["파타야"])
    with pytest.raises(DataError, match="two intents"):
        CRFNLU().fit([Example(text="파타야 날씨", intent="weather")])
    with pytest.raises(NotFoundError, match="directory"):
        CRFNLU.load(tmp_path)


def test_another_tag_set_fits_entities_only(shared_data, tmp_path) -> None:
    """KLUE-NER's tags: no intent classifier, no travel hints, spans of KLUE's types only."""
    from recstack.nlu.klue import KLUE_TYPES, load_klue_ner, split_klue_ner

    train, test = split_klue_ner(load_klue_ner(shared_data / "klue-ner"))
    train, test = train[:300], test[:80]
    model = CRFNLU(entity_types=KLUE_TYPES, max_iterations=60).fit(
        [Example(text, "other", spans) for text, spans in train])
    assert model.intent_ is None and model.matcher_ is None
    gold = [Example(text, "other", spans) for text, spans in test]
    result = evaluate(model, gold)
    # Measured on these 300/80 sentences: entity F1 0.62 (a CRF on little data).
    assert result["entities"]["f1"] >= 0.45
    parses = model.parse([e.text for e in gold])
    assert {s.type for p in parses for s in p.entities} <= set(KLUE_TYPES)
    assert {(p.intent, p.intent_score) for p in parses} == {("other", 0.0)}
    model.save(tmp_path / "klue")
    loaded = CRFNLU.load(tmp_path / "klue")
    assert loaded.entity_types == KLUE_TYPES
    assert [p.to_dict() for p in loaded.parse([e.text for e in gold[:20]])] == \
        [p.to_dict() for p in parses[:20]]


def test_parsing_from_many_threads_gives_the_sequential_parses(fitted: CRFNLU, questions) -> None:
    # The service parses in a thread pool; crfsuite's tagger is shared and not thread-safe
    # (before the lock, 16 concurrent clients got ~1% HTTP 500s and mixed-up tags).
    import sys
    from concurrent.futures import ThreadPoolExecutor

    texts = [e.text for e in questions][:50] * 4
    expected = [fitted.parse([t])[0] for t in texts]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads between any two calls, as a busy server does
    try:
        with ThreadPoolExecutor(16) as pool:
            got = list(pool.map(lambda t: fitted.parse([t])[0], texts))
    finally:
        sys.setswitchinterval(interval)
    assert got == expected
