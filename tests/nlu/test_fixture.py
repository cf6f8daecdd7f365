"""The hand-written fixture: spans point at their text, no particles inside, full coverage."""

from __future__ import annotations

from recstack.nlu.schema import ENTITY_TYPES, INTENTS, Example

# Particles no place name in the fixture ends with (랑 or 와 can: 나트랑, 하와이).
_PARTICLE_ENDS = ("에서", "으로", "까지", "부터", "이랑", "에는", "를", "을")


def test_every_span_is_its_text_and_spans_do_not_overlap(questions: list[Example]) -> None:
    assert len(questions) >= 120
    for example in questions:
        assert example.intent in INTENTS, example.text
        previous_end = 0
        for span in example.entities:
            assert span.type in ENTITY_TYPES, (example.text, span)
            assert example.text[span.start:span.end] == span.text, (example.text, span)
            assert span.text == span.text.strip() and span.text, (example.text, span)
            assert span.start >= previous_end, f"overlap in {example.text!r}"
            previous_end = span.end


def test_place_spans_hold_no_particles(questions: list[Example]) -> None:
    for example in questions:
        for span in example.entities:
            if span.type in ("COUNTRY", "CITY", "POI"):
                assert not span.text.endswith(_PARTICLE_ENDS), (example.text, span)


def test_every_intent_and_entity_type_occurs(questions: list[Example]) -> None:
    assert {e.intent for e in questions} == set(INTENTS)
    assert {s.type for e in questions for s in e.entities} == set(ENTITY_TYPES)


def test_the_split_holds_out_a_third_of_each_intent(split) -> None:
    train, test = split
    assert {e.intent for e in test} == set(INTENTS)
    assert not {e.text for e in train} & {e.text for e in test}
    assert 0.3 <= len(test) / (len(train) + len(test)) <= 0.36
