"""Decoding of the joint encoder's tags (torch-free): constrained BIO (Viterbi), spans that need
a rules match, per-type span thresholds and how they are chosen on labelled questions."""

from __future__ import annotations

import numpy as np
import pytest

from recstack.errors import ConfigError
from recstack.nlu.decoding import (
    DEFAULT_SPAN_THRESHOLDS,
    bio_constraints,
    choose_span_thresholds,
    viterbi_tags,
)
from recstack.nlu.evaluation import score_parses
from recstack.nlu.rules import find_entities
from recstack.nlu.schema import Parse, Span
from recstack.nlu.tagging import LABELS, JointCodec


def _probs(rows: list[dict[str, float]]) -> np.ndarray:
    """Per-token probabilities: the named labels get their values, the rest share what is left."""
    out = np.zeros((len(rows), len(LABELS)))
    for i, row in enumerate(rows):
        rest = (1.0 - sum(row.values())) / (len(LABELS) - len(row))
        out[i] = rest
        for label, p in row.items():
            out[i, LABELS.index(label)] = p
    return out


# "와가두구 숙소 추천": <s>, 와, 가, 두구, ▁숙소, 추천, </s> (the pieces of the e5 tokenizer).
TEXT = "와가두구 숙소 추천"
CONTENT = [(0, 0), (0, 1), (1, 2), (2, 4), (5, 7), (8, 10), (0, 0)]
# The shape of a real argmax error on validation: one unseen city cut into two types.
SPLIT_NAME = _probs([{"O": 0.9}, {"B-CITY": 0.6}, {"I-CITY": 0.5, "I-POI": 0.4},
                     {"I-POI": 0.5, "I-CITY": 0.45}, {"O": 0.9}, {"O": 0.9}, {"O": 0.9}])


def test_bio_constraints_forbid_inside_tags_after_o_another_type_and_at_the_start() -> None:
    transition, start = bio_constraints(LABELS)
    idx = LABELS.index
    assert np.isneginf(transition[idx("O"), idx("I-CITY")])
    assert np.isneginf(transition[idx("B-POI"), idx("I-CITY")])
    assert np.isneginf(transition[idx("I-POI"), idx("I-CITY")])
    assert transition[idx("B-CITY"), idx("I-CITY")] == 0 == transition[idx("I-CITY"),
                                                                       idx("I-CITY")]
    assert transition[idx("I-CITY"), idx("B-POI")] == 0 == transition[idx("O"), idx("B-POI")]
    assert np.isneginf(start[idx("I-DATE")]) and start[idx("B-DATE")] == 0


def test_viterbi_keeps_a_name_whole_where_argmax_cuts_it_into_two_types() -> None:
    argmax = JointCodec(None, {}, decoding="argmax", span_thresholds={})
    # Two spans, and 와가 then loses its 가 as if it were a particle.
    assert [(s.type, s.text) for s in argmax.decode(TEXT, CONTENT, SPLIT_NAME)] == [
        ("CITY", "와"), ("POI", "두구")]
    viterbi = JointCodec(None, {}, decoding="viterbi", span_thresholds={})
    spans = viterbi.decode(TEXT, CONTENT, SPLIT_NAME)
    assert [(s.type, s.text, s.start, s.end) for s in spans] == [("CITY", "와가두구", 0, 4)]
    # The score is the mean probability of the tags the path chose (B 0.6, I 0.5, I 0.45).
    assert spans[0].score == pytest.approx((0.6 + 0.5 + 0.45) / 3)
    transition, start = bio_constraints(LABELS)
    assert viterbi_tags(np.log(SPLIT_NAME[1:4]), transition, start) == [
        LABELS.index("B-CITY"), LABELS.index("I-CITY"), LABELS.index("I-CITY")]
    assert viterbi_tags(np.zeros((0, len(LABELS))), transition, start) == []


def test_countries_and_dates_need_a_rules_match_and_low_scores_are_dropped() -> None:
    # "동남아 말고 태국 추천해줘": 동남아 is a region no list names; 태국 is a listed country.
    text = "동남아 말고 태국 추천해줘"
    content = [(0, 0), (0, 3), (4, 6), (7, 9), (10, 12), (12, 14), (0, 0)]
    probs = _probs([{"O": 0.9}, {"B-COUNTRY": 0.8}, {"O": 0.9}, {"B-COUNTRY": 0.9},
                    {"O": 0.9}, {"O": 0.9}, {"O": 0.9}])
    codec = JointCodec(None, {"COUNTRY": ["태국"]}, span_thresholds={})
    rules = find_entities(text, codec.matcher)
    assert [s.text for s in codec.decode(text, content, probs, rule_spans=rules)] == ["태국"]
    loose = JointCodec(None, {"COUNTRY": ["태국"]}, hint_required=(), span_thresholds={})
    assert [s.text for s in loose.decode(text, content, probs, rule_spans=rules)] == [
        "동남아", "태국"]
    strict = JointCodec(None, {"COUNTRY": ["태국"]}, hint_required=(),
                        span_thresholds={"COUNTRY": 0.85})
    assert [s.text for s in strict.decode(text, content, probs, rule_spans=rules)] == ["태국"]
    # A saved model's config without the options gets the defaults (both runtimes agree).
    default = JointCodec.from_config(None, {}, {})
    assert default.decoding == "viterbi" and default.hint_required == {"COUNTRY", "DATE"}
    assert default.span_thresholds == DEFAULT_SPAN_THRESHOLDS


def test_thresholds_are_chosen_to_maximise_f1_on_labelled_questions(questions) -> None:
    # Parses that find every labelled entity (score 0.9) and, in every third question, a
    # wrong CITY span (score 0.35) and a right COMPANION span scored low (0.5): a CITY
    # threshold between 0.35 and 0.9 removes the wrong spans, a COMPANION one would cost
    # right spans, so none is chosen for it.
    parses = []
    for k, e in enumerate(questions):
        spans = [Span(s.type, s.start, s.end, s.text,
                      0.5 if s.type == "COMPANION" and k % 3 == 0 else 0.9)
                 for s in e.entities]
        if k % 3 == 0:
            spans.append(Span("CITY", 0, 1, e.text[:1], 0.35))
        parses.append(Parse(e.text, e.intent, 1.0, spans))
    before = score_parses(questions, parses)["entities"]
    assert before["precision"] < 0.9
    chosen = choose_span_thresholds(questions, parses)
    assert set(chosen) == {"CITY"} and 0.35 < chosen["CITY"] <= 0.9
    kept = [Parse(p.text, p.intent, 1.0, [s for s in p.entities
                                           if s.score >= chosen.get(s.type, 0.0)])
            for p in parses]
    assert score_parses(questions, kept)["entities"]["f1"] == 1.0
    assert choose_span_thresholds([], []) == {}


def test_bad_decoding_options_name_their_field() -> None:
    for options, field in (({"decoding": "beam"}, "decoding"),
                           ({"hint_required": ("PLACE",)}, "hint_required"),
                           ({"span_thresholds": {"CITY": 1.5}}, "span_thresholds"),
                           ({"span_thresholds": {"TOWN": 0.5}}, "span_thresholds")):
        with pytest.raises(ConfigError) as err:
            JointCodec(None, {}, **options)
        assert err.value.field == field
