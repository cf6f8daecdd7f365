"""The gazetteer + rules baseline: spans, particles, longest match, intents, persistence."""

from __future__ import annotations

import pytest

from recstack.errors import ConfigError, NotFoundError
from recstack.nlu.evaluation import evaluate
from recstack.nlu.rules import RulesNLU, find_entities, gazetteer_from_files
from recstack.nlu.schema import INTENTS

SMALL = {"COUNTRY": ["태국", "일본"], "CITY": ["파타야", "홋카이도", "방콕", "발리"],
         "POI": ["도톤보리"]}


def _ents(parse) -> list[tuple[str, str]]:
    return [(s.type, s.text) for s in parse.entities]


def test_the_seed_examples() -> None:
    first, second = RulesNLU(gazetteer=SMALL).parse(
        ["가족끼리 태국 파타야 여행지 추천해줘", "홋카이도 3박4일 일정 짜줘"])
    assert first.intent == "destination_recommendation"
    assert _ents(first) == [("COMPANION", "가족"), ("COUNTRY", "태국"), ("CITY", "파타야")]
    assert second.intent == "itinerary_planning"
    assert _ents(second) == [("CITY", "홋카이도"), ("DURATION", "3박4일")]
    for parse in (first, second):
        assert 0.0 <= parse.intent_score <= 1.0
        for s in parse.entities:
            assert parse.text[s.start:s.end] == s.text and 0.0 <= s.score <= 1.0


def test_particles_stay_outside_and_names_inside_longer_words_are_not_matched() -> None:
    [parse] = RulesNLU(gazetteer=SMALL).parse(["파타야에서 방콕까지 7월에 발리케시르 가요"])
    assert _ents(parse) == [("CITY", "파타야"), ("CITY", "방콕"), ("DATE", "7월")]


@pytest.mark.parametrize(("text", "expected"), [
    ("다음달 15일 출발", [("DATE", "다음달 15일")]),
    ("3월 초에 갈래", [("DATE", "3월 초")]),
    ("이번 주말 어때", [("DATE", "이번 주말")]),
    ("12월 25일부터", [("DATE", "12월 25일")]),
    ("5박 6일로", [("DURATION", "5박 6일")]),
    ("2주 동안", [("DURATION", "2주")]),
    ("당일치기로", [("DURATION", "당일치기")]),
    ("어른 2명 아이 1명 갑니다", [("PEOPLE", "어른 2명 아이 1명")]),
    ("셋이서 가요", [("PEOPLE", "셋")]),
    ("1인당 50만원 이하로", [("BUDGET", "1인당 50만원 이하")]),
    ("200만원으로", [("BUDGET", "200만원")]),
    ("부모님이랑 신혼여행", [("COMPANION", "부모님"), ("COMPANION", "신혼여행")]),
    # Forms real users write beyond digits and 만원.
    ("인당 50 정도로", [("BUDGET", "인당 50 정도")]),
    ("이백만원 이하로", [("BUDGET", "이백만원 이하")]),
    ("2천만원으로", [("BUDGET", "2천만원")]),
    ("500불로 가능해?", [("BUDGET", "500불")]),
    ("현충일 연휴에", [("DATE", "현충일 연휴")]),
    ("다음 주 금요일 출발", [("DATE", "다음 주 금요일")]),
    ("11/3에 출발", [("DATE", "11/3")]),
    ("무박 2일로", [("DURATION", "무박 2일")]),
    ("보름 일정", [("DURATION", "보름")]),
    ("성인 2 아동 1", [("PEOPLE", "성인 2 아동 1")]),
    ("두 사람이", [("PEOPLE", "두 사람")]),
    ("누나랑", [("COMPANION", "누나")]),
])
def test_regexes_and_companions(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(s.type, s.text) for s in find_entities(text, None)] == expected


def test_intents_by_keyword() -> None:
    texts = ["다음주 방콕 날씨 어때?", "일본 비자 필요해?", "방콕 항공권 얼마야",
             "파타야 호텔 추천", "도톤보리 맛집 알려줘", "발리 패키지 상품",
             "비트코인 사도 될까", "방콕 어때?"]
    intents = [p.intent for p in RulesNLU(gazetteer=SMALL).parse(texts)]
    assert intents == ["weather", "visa_entry", "flight", "hotel", "restaurant",
                       "product_recommendation", "other", "destination_recommendation"]


def test_bad_and_odd_input_does_not_crash() -> None:
    long_text = "태국 파타야 3박4일 일정 짜줘 " * 400
    texts = ["", "   \n\t", "What is the weather in Paris?", "!!!???", "🙂🙂", long_text]
    parses = RulesNLU(gazetteer=SMALL).parse(texts)
    assert [p.text for p in parses] == texts
    assert [(p.intent, p.entities) for p in parses[:2]] == [("other", []), ("other", [])]
    assert parses[3].intent == parses[4].intent == "other"
    assert all(p.intent in INTENTS and 0.0 <= p.intent_score <= 1.0 for p in parses)
    assert len(parses[5].entities) == 1200
    assert all(long_text[s.start:s.end] == s.text for s in parses[5].entities)


def _weight(model: RulesNLU, intent: str, word: str) -> float:
    """The weight of the first keyword of ``intent`` that matches ``word``."""
    for pattern, weight in zip(model.patterns_[intent], model.weights_[intent], strict=True):
        if pattern.fullmatch(word):
            return weight
    raise AssertionError(f"no {intent} keyword matches {word!r}")


def test_fit_rescales_keywords_by_their_precision(split) -> None:
    train, _ = split
    model = RulesNLU(gazetteer=SMALL).fit(train)
    assert _weight(model, "weather", "날씨") > 4.0  # always weather here: up to twice the base
    assert _weight(model, "destination_recommendation", "추천") < 0.5  # said for every intent
    unlearned = RulesNLU(gazetteer=SMALL, learn_weights=False).fit(train)
    assert _weight(unlearned, "weather", "날씨") == 4.0


def test_save_load_round_trip(tmp_path, questions) -> None:
    model = RulesNLU(gazetteer=SMALL).fit(questions)
    model.save(tmp_path / "rules")
    loaded = RulesNLU.load(tmp_path / "rules")
    texts = [e.text for e in questions]
    assert [p.to_dict() for p in loaded.parse(texts)] == [p.to_dict() for p in model.parse(texts)]
    with pytest.raises(NotFoundError, match="directory"):
        RulesNLU.load(tmp_path / "nothing")


def test_unknown_entity_type_in_the_gazetteer_is_refused() -> None:
    with pytest.raises(ConfigError, match="gazetteer"):
        RulesNLU(gazetteer={"PLACE": ["파리"]}).parse(["파리"])


def test_shared_gazetteer_lists(gazetteer) -> None:
    assert {"태국", "일본", "호주", "싱가포르"} <= set(gazetteer["COUNTRY"])
    assert {"파타야", "오사카", "방콕", "홍콩", "괌", "발리"} <= set(gazetteer["CITY"])
    assert not set(gazetteer["COUNTRY"]) & set(gazetteer["CITY"])
    assert not {"빈", "나라", "고양"} & set(gazetteer["CITY"])
    with pytest.raises(NotFoundError, match="folder"):
        gazetteer_from_files("/nonexistent")


def test_held_out_fixture_with_the_shared_gazetteer(split, gazetteer) -> None:
    # The keywords were written with this fixture in view, so these are a floor against
    # regressions, not an estimate of accuracy on real users' questions.
    train, test = split
    pois = sorted({s.text for e in train for s in e.entities if s.type == "POI"})
    model = RulesNLU(gazetteer={**gazetteer, "POI": pois}).fit(train)
    result = evaluate(model, test)
    assert result["intent"]["accuracy"] >= 0.9
    assert result["entities"]["f1"] >= 0.85
