"""The two stages: 1:N selection (one candidate or none), then 1:1 verification; precision and
recall after each, and the share of wrong links the second stage removes."""

from __future__ import annotations

import numpy as np
import pytest

from recstack.errors import ConfigError
from recstack.matching.data import PairSet, Record
from recstack.matching.stages import (
    CandidateGroup,
    groups_from_pairs,
    select_many,
    select_one_of_n,
    two_stage_report,
    verify_pair,
)
from recstack.settings import Settings

BUSAN = Record("부산광역시", 35.1017, 129.0300)
CANDIDATES = [Record("Seoul", 37.566, 126.978), Record("Busan Station", 35.115, 129.041),
              Record("Busan", 35.10, 129.03), Record("Ulsan", 35.537, 129.317)]


def test_selection_picks_the_same_place_among_similar_ones(ko_en_matcher):
    chosen = select_one_of_n(BUSAN, CANDIDATES, ko_en_matcher)
    assert chosen.index == 2 and chosen.score >= 0.5
    assert len(chosen.scores) == 4 and chosen.scores[1] < chosen.score  # the station is not it
    assert verify_pair(BUSAN, CANDIDATES[2], ko_en_matcher).match
    assert not verify_pair(BUSAN, CANDIDATES[1], ko_en_matcher).match
    station = select_one_of_n(Record("부산역"), CANDIDATES, ko_en_matcher)
    assert station.index == 1


def test_none_of_these_and_empty_candidates(ko_en_matcher):
    nowhere = select_one_of_n(BUSAN, [CANDIDATES[0], CANDIDATES[3]], ko_en_matcher)
    assert nowhere.index is None and nowhere.score < 0.5
    empty = select_one_of_n(BUSAN, [], ko_en_matcher)
    assert empty.index is None and np.isnan(empty.score)
    with pytest.raises(ConfigError):
        select_many([BUSAN], [], ko_en_matcher)
    with pytest.raises(ConfigError):
        select_one_of_n(BUSAN, CANDIDATES, object())


def _scorer_by_table(table: dict[tuple[str, str], float]):
    """A scorer that looks each (left name, right name) up: stage numbers computable by hand."""
    def score(pairs: PairSet) -> np.ndarray:
        return np.array([table[(a.name, b.name)] for a, b in zip(pairs.left, pairs.right,
                                                                  strict=True)])
    return score


def test_report_counts_links_after_each_stage():
    a, b, c = Record("a"), Record("b"), Record("c")
    x, y, z = Record("x"), Record("y"), Record("z")
    groups = [CandidateGroup(a, [x, y], truth=0),   # stage 1 right, stage 2 keeps it
              CandidateGroup(b, [x, y], truth=1),   # stage 1 wrong (x), stage 2 removes it
              CandidateGroup(c, [z], truth=None)]   # stage 1 wrong (z), stage 2 keeps it
    selector = _scorer_by_table({("a", "x"): .9, ("a", "y"): .2, ("b", "x"): .8,
                                 ("b", "y"): .6, ("c", "z"): .7})
    verifier = _scorer_by_table({("a", "x"): .95, ("b", "x"): .1, ("c", "z"): .6})
    report = two_stage_report(groups, selector, verifier)
    assert report["with_true_match"] == 2
    assert report["stage1_select"] == pytest.approx({"precision": 1 / 3, "recall": 1 / 2,
                                                     "f1": 0.4, "links": 3, "correct": 1,
                                                     "wrong": 2})
    assert report["stage2_verify"]["precision"] == pytest.approx(0.5)
    assert report["stage2_verify"]["recall"] == pytest.approx(0.5)
    assert report["wrong_removed_share"] == pytest.approx(0.5)
    assert report["correct_lost_share"] == 0.0


def test_verification_removes_wrong_links_on_real_pairs(ko_en_pairs, ko_en_matcher):
    groups = groups_from_pairs(ko_en_pairs["test"])
    assert sum(g.truth is None for g in groups) > 0 and len(groups) > 100
    # Stage 1 always picks the best candidate (threshold 0), as a 1:N prompt mostly does.
    report = two_stage_report(groups, ko_en_matcher, ko_en_matcher, select_threshold=0.0)
    first, second = report["stage1_select"], report["stage2_verify"]
    assert first["links"] == sum(bool(g.candidates) for g in groups)
    assert second["precision"] > first["precision"] + 0.1
    assert report["wrong_removed_share"] > 0.7 and report["correct_lost_share"] < 0.1
    assert second["recall"] > 0.75


def test_llm_judge_asks_both_stages_and_falls_back_when_down(scripted_llm, ko_en_matcher):
    from recstack.llm import open_chat_client
    from recstack.matching.stages import LLMJudge

    settings = scripted_llm.settings(Settings())
    scripted_llm.script([
        {"when": "Place A: 부산광역시", "reply": '{"candidate": 3}'},
        {"when": "B: Busan Station", "reply": '{"answer": "no"}'},
        {"when": "B: Busan", "reply": '{"answer": "yes"}'}])
    judge = LLMJudge(open_chat_client(settings), ko_en_matcher)
    chosen = select_one_of_n(BUSAN, CANDIDATES, judge)
    assert chosen.index == 2 and chosen.scores.tolist() == [0, 0, 1, 0]
    assert verify_pair(BUSAN, CANDIDATES[2], judge).match
    assert not verify_pair(BUSAN, CANDIDATES[1], judge).match
    asked = scripted_llm.requests()
    assert len(asked) == 3 and "2. Busan Station" in asked[0]["messages"][1]["content"]
    assert judge.fallbacks == 0

    down = LLMJudge(open_chat_client(settings.model_copy(update={"llm": settings.llm.model_copy(
        update={"base_url": "http://127.0.0.1:9/v1"})})), ko_en_matcher)
    assert select_one_of_n(BUSAN, CANDIDATES, down).index == 2  # the local matcher answered
    assert down.fallbacks == 1
