"""The kiwipiepy wrapper: offsets into the input and the user dictionary."""

from __future__ import annotations

import pytest

pytest.importorskip("kiwipiepy")

from recstack.text import KoreanTokenizer


@pytest.fixture(scope="module")
def tokenizer() -> KoreanTokenizer:
    tok = KoreanTokenizer(["홋카이도"])
    tok.add_user_word("하얏트 리젠시", "NNP")
    return tok


def test_morphemes_carry_offsets_into_the_text(tokenizer: KoreanTokenizer) -> None:
    text = "홋카이도로 3박4일 하얏트 리젠시에서 묵을래요"
    morphemes = tokenizer.tokenize(text)
    for m in morphemes:
        assert 0 <= m.start < m.end <= len(text)
    nouns = [(m.form, text[m.start:m.end]) for m in morphemes if m.tag == "NNP"]
    assert ("홋카이도", "홋카이도") in nouns
    particles = [m.form for m in morphemes if m.tag.startswith("J")]
    assert "로" in particles and "에서" in particles


def test_user_words_added_after_the_model_loaded_apply(tokenizer: KoreanTokenizer) -> None:
    tokenizer.tokenize("준비")  # loads the analyser
    tokenizer.add_user_word("성산일출봉", "NNP")
    forms = [m.form for m in tokenizer.tokenize("성산일출봉에 가고 싶어")]
    assert "성산일출봉" in forms


def test_batch_matches_single(tokenizer: KoreanTokenizer) -> None:
    texts = ["파타야에서 뭐 해?", "제주도의 날씨"]
    assert tokenizer.tokenize_batch(texts) == [tokenizer.tokenize(t) for t in texts]
