"""The template grammar, the generator's spans and the held-out splits."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from recstack.errors import ConfigError
from recstack.nlu.data import (
    PLACE_TYPES,
    NLUSplits,
    Template,
    fill,
    generate,
    load_grammar,
    load_templates,
    make_splits,
    read_examples,
    write_dataset,
)
from recstack.nlu.schema import ENTITY_TYPES, INTENTS, Example

SMALL_FILLERS = {"CITY": ["파타야", "서울", "부산", "홋카이도"], "COUNTRY": ["태국", "일본"],
                 "COMPANION": ["가족", "친구"], "POI": ["경복궁", "도톤보리"],
                 "DURATION": ["3박4일", "5박 6일"]}


@pytest.fixture(scope="module")
def grammar(shared_data: Path):
    return load_grammar(shared_data)


@pytest.fixture(scope="module")
def splits(grammar) -> NLUSplits:
    return make_splits(0, sizes=(1800, 300, 450), grammar=grammar)


def test_the_grammar_has_several_hundred_templates_over_every_intent() -> None:
    templates = load_templates()
    assert len(templates) >= 300
    per_intent = Counter(t.intent for t in templates)
    assert set(per_intent) == set(INTENTS)
    assert min(per_intent.values()) >= 30
    assert len({t.id for t in templates}) == len(templates)
    assert any(not t.slots for t in templates)  # questions without any entity
    assert sum(len(set(t.slots)) >= 3 for t in templates) >= 20  # multi-slot ones


def test_slot_particles_are_outside_the_span() -> None:
    rng = random.Random(0)
    template = Template("t-1", "flight", "{CITY}에서 {CITY#2} 가는 비행기 있어?")
    fillers = {"CITY": ["파타야", "홋카이도"]}
    example = fill(template, fillers, rng)
    first, second = example.entities
    assert example.text[first.start:first.end] == example.fillers["CITY"] == first.text
    assert example.text[first.end:first.end + 2] == "에서"
    assert example.text[second.start:second.end] == example.fillers["CITY#2"] != first.text
    assert {first.type, second.type} == {"CITY"}


@pytest.mark.parametrize(("filler", "expected"), [
    ("부산", "부산으로 가족이랑 경복궁은 좋아?"),
    ("서울", "서울로 가족이랑 경복궁은 좋아?"),  # ㄹ takes 로
    ("파타야", "파타야로 가족이랑 경복궁은 좋아?"),
])
def test_particle_allomorphs_follow_the_filler(filler: str, expected: str) -> None:
    template = Template("t-1", "hotel", "{CITY}(으)로 {COMPANION}(이)랑 {POI}은/는 좋아?")
    fillers = {"CITY": [filler], "COMPANION": ["가족"], "POI": ["경복궁"]}
    example = fill(template, fillers, random.Random(0))
    assert example.text == expected
    fillers = {"CITY": [filler], "COMPANION": ["친구"], "POI": ["도톤보리"]}
    assert fill(template, fillers, random.Random(0)).text.endswith("친구랑 도톤보리는 좋아?")


@pytest.mark.parametrize(("date", "expected"), [
    ("내일", "내일 파타야 날씨 어때? 내일도 비 와?"),  # users never write 내일에
    ("다음 주", "다음 주에 파타야 날씨 어때? 다음 주에도 비 와?"),
    ("12월", "12월에 파타야 날씨 어때? 12월에도 비 와?"),
])
def test_relative_days_take_no_e(date: str, expected: str) -> None:
    template = Template("t-1", "weather", "{DATE}에 {CITY} 날씨 어때? {DATE}에도 비 와?")
    example = fill(template, {"DATE": [date], "CITY": ["파타야"]}, random.Random(0))
    assert example.text == expected
    assert [example.text[s.start:s.end] for s in example.entities] == [date, "파타야", date]


def test_generation_is_deterministic_by_seed() -> None:
    templates = [t for t in load_templates() if set(s.split("#")[0] for s in t.slots)
                 <= set(SMALL_FILLERS)]
    first = generate(300, seed=3, templates=templates, fillers=SMALL_FILLERS)
    again = generate(300, seed=3, templates=templates, fillers=SMALL_FILLERS)
    other = generate(300, seed=4, templates=templates, fillers=SMALL_FILLERS)
    assert [e.to_dict() for e in first] == [e.to_dict() for e in again]
    assert [e.text for e in first] != [e.text for e in other]


def test_spacing_noise_drops_literal_spaces_but_never_touches_a_filler() -> None:
    templates = [t for t in load_templates() if set(s.split("#")[0] for s in t.slots)
                 <= set(SMALL_FILLERS)]

    def spaces(noise: float) -> float:
        examples = generate(300, seed=3, templates=templates, fillers=SMALL_FILLERS,
                            spacing_noise=noise)
        for e in examples:
            for span in e.entities:
                assert e.text[span.start:span.end] == span.text
        assert any("5박 6일" in e.text for e in examples)
        return sum(e.text.count(" ") for e in examples) / sum(len(e.text) for e in examples)

    assert spaces(1.0) < 0.7 * spaces(0.0)


def test_every_template_renders_to_plain_text(grammar) -> None:
    rng = random.Random(0)
    for template in grammar.templates:
        for _ in range(3):
            text = fill(template, grammar.fillers, rng, country_of=grammar.country_of).text
            assert not re.search(r"[{}\[\]|]|\((으|이)\)|[가-힣]/[가-힣]", text), (template.id,
                                                                                text)
            assert text == text.strip() and "  " not in text, (template.id, text)


def test_a_slot_without_fillers_is_refused() -> None:
    with pytest.raises(ConfigError, match="BUDGET"):
        generate(5, seed=0, templates=[Template("t-1", "flight", "{BUDGET} 항공권")],
                 fillers={"CITY": ["서울"]})


def test_spans_are_exactly_the_fillers(splits: NLUSplits, grammar) -> None:
    listed = {v for values in grammar.fillers.values() for v in values}
    for _, examples in splits.items():
        for example in examples:
            assert set(example.fillers.values()) == {s.text for s in example.entities}
            for span in example.entities:
                assert span.type in ENTITY_TYPES
                assert example.text[span.start:span.end] == span.text
                assert span.text in listed  # a filler as written: no particle attached
            ends = [(s.start, s.end) for s in sorted(example.entities, key=lambda s: s.start)]
            assert all(a[1] <= b[0] for a, b in itertools.pairwise(ends))


def test_every_intent_has_a_sensible_share(splits: NLUSplits) -> None:
    for _, examples in splits.items():
        share = Counter(e.intent for e in examples)
        assert set(share) == set(INTENTS)
        assert 0.07 <= share["other"] / len(examples) <= 0.13
        for intent in INTENTS[:-1]:
            assert 0.07 <= share[intent] / len(examples) <= 0.16, intent
        types = Counter(s.type for e in examples for s in e.entities)
        assert set(types) == set(ENTITY_TYPES)


def test_test_templates_and_places_are_unseen_in_training(splits: NLUSplits) -> None:
    def templates(examples: list[Example]) -> set[str]:
        return {e.template for e in examples if e.template}

    def places(examples: list[Example]) -> set[str]:
        return {s.text for e in examples for s in e.entities if s.type in PLACE_TYPES}

    train, valid, test = splits.train, splits.valid, splits.test
    assert not templates(test) & templates(train)
    assert not templates(valid) & templates(train)
    assert not templates(test) & templates(valid)
    assert not places(test) & places(train)
    assert not places(valid) & places(train)
    assert not places(test) & places(valid)
    # Nor another spelling or a longer name of a training place (하롱베이 / 하롱베이 크루즈).
    seen = [p for p in places(train) if len(p) >= 2]
    for name in places(test):
        assert not [p for p in seen if p in name or name in p], name
    # Every place list of the test grammar is held out as a whole.
    assert not splits.grammars["test"].place_names() & places(train)
    assert not splits.grammars["test"].place_names() & splits.grammars["train"].place_names()
    assert len(templates(test)) >= 40


def test_make_splits_is_deterministic(grammar) -> None:
    one = make_splits(5, sizes=(50, 20, 20), grammar=grammar)
    two = make_splits(5, sizes=(50, 20, 20), grammar=grammar)
    assert [e.to_dict() for e in one.test] == [e.to_dict() for e in two.test]
    other = make_splits(6, sizes=(50, 20, 20), grammar=grammar)
    assert {e.template for e in other.test} != {e.template for e in one.test}


def test_write_dataset_round_trips(tmp_path: Path, shared_data: Path) -> None:
    written = write_dataset(tmp_path / "nlu", seed=1, sizes=(40, 10, 10),
                            shared_dir=shared_data)
    assert set(written) == {"train", "valid", "test", "split"}
    train = read_examples(written["train"])
    assert len(train) == 40
    again = make_splits(1, sizes=(40, 10, 10), shared_dir=shared_data)
    assert [e.to_dict() for e in train] == [e.to_dict() for e in again.train]
    line = written["test"].read_text(encoding="utf-8").splitlines()[0]
    assert '"intent"' in line and "\\u" not in line  # Hangul written as is
