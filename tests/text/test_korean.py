"""Korean text helpers on real travel phrases: particles, normalisation offsets, Hangul."""

from __future__ import annotations

import pytest

from recstack.text import (
    has_hangul,
    normalize,
    normalize_with_offsets,
    strip_particle,
    trim_span,
)

KNOWN = {"인터라켄", "파타야", "괌", "하와이", "발리", "제주도", "홋카이도", "삿포로"}


@pytest.mark.parametrize(("span", "stem"), [
    ("파타야에서", "파타야"),
    ("홋카이도로", "홋카이도"),
    ("하얏트 리젠시에", "하얏트 리젠시"),
    ("제주도의", "제주도"),
    ("부산으로", "부산"),
    ("서울이", "서울"),
    ("도쿄를", "도쿄"),
    ("런던과", "런던"),
    ("가족이랑", "가족"),
    ("친구들하고", "친구들"),
    ("방콕까지", "방콕"),
    ("서울에서도", "서울"),  # two stacked particles
    ("부산으로는", "부산"),
    ("괌에", "괌"),
    ("오사카", "오사카"),
])
def test_strip_particle_removes_trailing_particles(span: str, stem: str) -> None:
    assert strip_particle(span) == stem
    assert strip_particle(span, KNOWN) == stem


def test_the_final_consonant_rule_keeps_names_whole() -> None:
    # 이/이랑 follow a final consonant; 하와 has none, so 이 belongs to the name.
    assert strip_particle("하와이") == "하와이"
    assert strip_particle("하와이랑") == "하와이"
    assert strip_particle("보라카이") == "보라카이"
    assert strip_particle("치앙마이는") == "치앙마이"


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_names_are_never_cut(name: str) -> None:
    assert strip_particle(name, KNOWN) == name
    assert strip_particle(name + "에서", KNOWN) == name
    assert strip_particle(name + "도", KNOWN) == name


def test_without_known_a_name_ending_in_a_free_particle_is_cut() -> None:
    # Documented limit: 도 and 로 fit after anything, so only the gazetteer can save these.
    assert strip_particle("제주도") == "제주"
    assert strip_particle("삿포로") == "삿포"


def test_trim_span_keeps_offsets_in_the_original_text() -> None:
    text = "다음달에 하얏트 리젠시에 묵을 건데 파타야에서 뭐 해?"
    start = text.index("하얏트")
    assert trim_span(text, start, start + len("하얏트 리젠시에")) == (start, start + 7)
    start = text.index("파타야")
    s, e = trim_span(text, start - 1, start + 5, KNOWN)  # a leading space comes off too
    assert text[s:e] == "파타야"


def test_normalize_collapses_whitespace_and_drops_control_characters() -> None:
    assert normalize("  제주도\u200b  3박４일\n\t여행 ") == "제주도 3박4일 여행"
    assert normalize("\x00\x07") == ""
    assert normalize("ＡＢＣ호텔") == "ABC호텔"  # full-width Latin (NFKC)


def test_normalized_spans_map_back_to_the_original() -> None:
    original = " 가족\u200b끼리  ㎞  파타야\x07에서"
    norm = normalize_with_offsets(original)
    assert norm.text == "가족끼리 km 파타야에서"
    start = norm.text.index("파타야")
    s, e = norm.original_span(start, start + 3)
    assert original[s:e] == "파타야"
    s, e = norm.original_span(norm.text.index("km"), norm.text.index("km") + 2)
    assert original[s:e] == "㎞"  # one original character became two
    s, e = norm.original_span(0, 4)
    assert original[s:e] == "가족\u200b끼리"


def test_decomposed_hangul_is_composed_and_mapped() -> None:
    decomposed = "\u1111\u1161\u1110\u1161\u110b\u1163 여행"  # 파타야 as conjoining jamo
    norm = normalize_with_offsets(decomposed)
    assert norm.text == "파타야 여행"
    assert norm.original_span(0, 3) == (0, 6)


def test_has_hangul() -> None:
    assert has_hangul("서울 3박")
    assert has_hangul("ㅋㅋ")
    assert not has_hangul("Tokyo 3 nights")
    assert not has_hangul("")
