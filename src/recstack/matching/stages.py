"""The seed's two matching stages: a 1:N selection (which of N candidates is the same place, or
none) followed by a 1:1 verification of the chosen pair.

The travel seed asked an LLM to pick, for each place, one of its N candidates; a second 1:1
question ("are A and B the same place?") then removed most of the wrong picks ("Hozenji
Yokocho" chosen for "Janjan Yokocho Alley" because both say Yokocho). Here each stage takes a
*scorer*: anything that turns a :class:`~recstack.matching.data.PairSet` into one match
probability per pair (0.5 the boundary) — a fitted matcher, a :class:`MatchBundle`, or any
function. By default the selection uses a cheap name-and-distance rule and the verification
the learned matcher, the local counterpart of the seed's two prompts.

Callers (``recstack match link``, package recommendation, batch jobs) use
:func:`select_one_of_n` / :func:`verify_pair` for one record, or :func:`select_many` /
:func:`verify_many` for many at once (one scorer call for all pairs: far faster).
:func:`run_two_stages` runs both for many records (the link job's local executor);
:func:`two_stage_report` measures precision and recall after each stage on labelled groups.
This module is the one implementation of the stages: the link job's chat and batch executors
ask with its prompts (:func:`select_messages`, :func:`verify_messages`) and answer models.

With the LLM switch on (``RECSTACK_LLM__BASE_URL``), :class:`LLMJudge` asks both questions of
the LLM with structured answers (the candidate's number, or yes/no), starting from the seed's
prompts, and falls back to a local scorer whenever the endpoint is unavailable.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from recstack.errors import ConfigError
from recstack.matching.data import PairSet, Record

__all__ = ["CandidateGroup", "Choice", "LLMJudge", "Scorer", "Selection", "Verdict",
           "Verification", "as_scorer", "describe", "groups_from_pairs", "run_two_stages",
           "select_many", "select_messages", "select_one_of_n", "two_stage_report",
           "verify_many", "verify_messages", "verify_pair"]

Scorer = Callable[[PairSet], np.ndarray]


def as_scorer(model: Any) -> Scorer:
    """A scorer from a fitted matcher (``predict_proba``), a bundle (``score``) or a function
    of a PairSet; raises ConfigError for anything else."""
    if hasattr(model, "score") and callable(model.score) and not hasattr(model, "predict_proba"):
        return lambda pairs: np.asarray(model.score(pairs), dtype=float)
    if hasattr(model, "predict_proba"):
        return lambda pairs: np.asarray(model.predict_proba(pairs)[:, 1], dtype=float)
    if callable(model):
        return lambda pairs: np.asarray(model(pairs), dtype=float)
    raise ConfigError(f"{type(model).__name__} cannot score pairs", field="scorer",
                      fix="pass a fitted matcher, a MatchBundle or a function PairSet → scores")


@dataclass
class Selection:
    """Stage 1's answer for one record."""

    index: int | None  # the chosen candidate's position, None for "none of these"
    score: float  # the chosen (or best, when none) candidate's score; nan without candidates
    scores: np.ndarray = field(repr=False)  # every candidate's score, in candidate order


@dataclass
class Verification:
    """Stage 2's answer for one pair."""

    match: bool
    score: float


def select_many(records: Sequence[Record], candidates: Sequence[Sequence[Record]],
                selector: Any, *, threshold: float = 0.5) -> list[Selection]:
    """Stage 1 for many records: each record's best candidate, or none when the best scores
    under ``threshold``. All pairs are scored in one call of ``selector``.

    Args:
        records: the records to place (left side).
        candidates: per record, its candidate records (blocking's output); may be empty.
        selector: a fitted matcher, a MatchBundle or a function PairSet → scores.
        threshold: the least score a chosen candidate needs ("none" below it).
    """
    if len(records) != len(candidates):
        raise ConfigError(f"{len(records)} records but {len(candidates)} candidate lists",
                          field="candidates", fix="give one candidate list per record")
    if isinstance(selector, LLMJudge):
        return [selector.select(r, list(group)) for r, group in zip(records, candidates,
                                                                     strict=True)]
    score = as_scorer(selector)
    left = [r for r, group in zip(records, candidates, strict=True) for _ in group]
    right = [c for group in candidates for c in group]
    flat = score(PairSet(left, right)) if left else np.empty(0)
    out: list[Selection] = []
    start = 0
    for group in candidates:
        scores = flat[start:start + len(group)]
        start += len(group)
        if len(scores) == 0:
            out.append(Selection(None, float("nan"), scores))
            continue
        best = int(np.argmax(scores))
        chosen = best if scores[best] >= threshold else None
        out.append(Selection(chosen, float(scores[best]), scores))
    return out


def select_one_of_n(record: Record, candidates: Sequence[Record], selector: Any, *,
                    threshold: float = 0.5) -> Selection:
    """Stage 1 (1:N) for one record: which candidate is the same place, or none.

    Args:
        record: the record to place.
        candidates: its candidates (e.g. from :func:`recstack.matching.blocking.block`).
        selector: a fitted matcher, a MatchBundle or a function PairSet → scores.
        threshold: the least score the chosen candidate needs.

    Returns:
        The chosen candidate's index (None for none), its score and every candidate's score.
    """
    return select_many([record], [candidates], selector, threshold=threshold)[0]


def verify_many(left: Sequence[Record], right: Sequence[Record], verifier: Any, *,
                threshold: float = 0.5) -> list[Verification]:
    """Stage 2 for many chosen pairs (``left[i]`` with ``right[i]``), in one scorer call."""
    if not left:
        return []
    if isinstance(verifier, LLMJudge):
        return [verifier.verify(a, b) for a, b in zip(left, right, strict=True)]
    scores = as_scorer(verifier)(PairSet(list(left), list(right)))
    return [Verification(bool(s >= threshold), float(s)) for s in scores]


def verify_pair(left: Record, right: Record, verifier: Any, *,
                threshold: float = 0.5) -> Verification:
    """Stage 2 (1:1) for one chosen pair: are ``left`` and ``right`` the same place?

    Args:
        left: the record placed in stage 1.
        right: the candidate stage 1 chose.
        verifier: a fitted matcher, a MatchBundle or a function PairSet → scores.
        threshold: the least score for a yes.
    """
    return verify_many([left], [right], verifier, threshold=threshold)[0]


@dataclass
class CandidateGroup:
    """One record, its candidates, and which candidate is its true match (None: none is)."""

    record: Record
    candidates: list[Record]
    truth: int | None


def groups_from_pairs(pairs: PairSet) -> list[CandidateGroup]:
    """Labelled pairs grouped by their left record: the candidates a pair file gives each left
    record, and the true match among them (the first labelled 1, or None)."""
    labels = pairs.require_labels("grouping candidates")
    by_left: dict[Any, CandidateGroup] = {}
    for a, b, label in zip(pairs.left, pairs.right, labels, strict=True):
        key = (a.name, a.lat, a.lon, a.address, a.postal_code, tuple(sorted(a.attributes.items())))
        group = by_left.setdefault(key, CandidateGroup(a, [], None))
        if label == 1 and group.truth is None:
            group.truth = len(group.candidates)
        group.candidates.append(b)
    return list(by_left.values())


def _precision_recall(correct: int, predicted: int, relevant: int) -> dict[str, float]:
    precision = correct / predicted if predicted else 0.0
    recall = correct / relevant if relevant else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "links": predicted,
            "correct": correct, "wrong": predicted - correct}


def run_two_stages(records: Sequence[Record], candidates: Sequence[Sequence[Record]],
                   selector: Any, verifier: Any, *, select_threshold: float = 0.5,
                   verify_threshold: float = 0.5
                   ) -> list[tuple[Selection, Verification | None]]:
    """Both stages for many records: stage 1 picks one candidate or none, stage 2 verifies
    each pick (None where nothing was picked).

    When ``verifier`` is ``selector`` (a local scorer, not the LLM), the pick's stage-1 score is
    its stage-2 score: the same model at another cut, without scoring the pair twice.
    """
    selections = select_many(records, candidates, selector, threshold=select_threshold)
    picked = [i for i, s in enumerate(selections) if s.index is not None]
    if verifier is selector and not isinstance(verifier, LLMJudge):
        checks = [Verification(bool(selections[i].score >= verify_threshold),
                               selections[i].score) for i in picked]
    else:
        checks = verify_many([records[i] for i in picked],
                             [candidates[i][selections[i].index or 0] for i in picked],
                             verifier, threshold=verify_threshold)
    verified: list[Verification | None] = [None] * len(selections)
    for i, check in zip(picked, checks, strict=True):
        verified[i] = check
    return list(zip(selections, verified, strict=True))


def two_stage_report(groups: Sequence[CandidateGroup], selector: Any, verifier: Any, *,
                     select_threshold: float = 0.5, verify_threshold: float = 0.5
                     ) -> dict[str, Any]:
    """Precision and recall of the links after stage 1 and after stage 2, and the share of
    stage 1's wrong links that stage 2 removes (the seed's 87%).

    A link is (record, chosen candidate); it is correct when the candidate is the record's true
    match. Recall is over the records whose true match is among their candidates.
    """
    results = run_two_stages([g.record for g in groups], [g.candidates for g in groups],
                             selector, verifier, select_threshold=select_threshold,
                             verify_threshold=verify_threshold)
    chosen = [(g, s.index) for g, (s, _) in zip(groups, results, strict=True)
              if s.index is not None]
    checks = [v for _, v in results if v is not None]
    relevant = sum(g.truth is not None for g in groups)
    correct_1 = sum(g.truth == i for g, i in chosen)
    kept = [(g, i) for (g, i), v in zip(chosen, checks, strict=True) if v.match]
    correct_2 = sum(g.truth == i for g, i in kept)
    stage1 = _precision_recall(correct_1, len(chosen), relevant)
    stage2 = _precision_recall(correct_2, len(kept), relevant)
    removed = stage1["wrong"] - stage2["wrong"]
    return {"records": len(groups), "with_true_match": relevant,
            "candidates_per_record": sum(len(g.candidates) for g in groups) / max(len(groups), 1),
            "stage1_select": stage1, "stage2_verify": stage2,
            "wrong_removed_share": removed / stage1["wrong"] if stage1["wrong"] else 0.0,
            "correct_lost_share": (correct_1 - correct_2) / correct_1 if correct_1 else 0.0,
            "select_threshold": select_threshold, "verify_threshold": verify_threshold}


# The seed's prompts as the starting point. Its 1:1 question also said "or nearby": the link
# job keeps that wording (``or_nearby=True``); elsewhere it is dropped, since a city's station or
# airport is nearby and still another place.
SYSTEM_PROMPT = ("You match places between two databases whose names may be in different "
                 "languages (Korean, English) or spellings. Records give a name and, when "
                 "known, an address and coordinates (latitude, longitude).")


class Choice(BaseModel):
    """The 1:N answer: the candidate's number, or 0 when none is the same place."""

    candidate: int = Field(ge=0, description="number of the candidate that is the same place "
                                             "as A, or 0 for none")


class Verdict(BaseModel):
    """The 1:1 answer."""

    answer: Literal["yes", "no"]


def describe(record: Record) -> str:
    """One line of a record for a prompt."""
    parts = [record.name]
    if record.address:
        parts.append(f"address: {record.address}")
    if record.has_coordinates:
        parts.append(f"coordinates: {record.lat:.5f}, {record.lon:.5f}")
    return "; ".join(parts)


def select_messages(record: Record, candidates: Sequence[Record]) -> list[dict[str, str]]:
    """The seed's 1:N question."""
    lines = [f"{n}. {describe(c)}" for n, c in enumerate(candidates, start=1)]
    question = (f"Place A: {describe(record)}\nCandidates:\n" + "\n".join(lines) +
                "\nWhich of these candidates is the same place as A, or none? Answer with the "
                "candidate's number, or 0 for none.")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]


def verify_messages(left: Record, right: Record, *, or_nearby: bool = False
                    ) -> list[dict[str, str]]:
    """The seed's 1:1 question (with its "or nearby" when ``or_nearby``)."""
    same = "the same place or nearby" if or_nearby else "the same place"
    question = (f"A: {describe(left)}\nB: {describe(right)}\n"
                f"Answer yes if A and B are {same}, else no.")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]


class LLMJudge:
    """Both stages asked of the LLM behind the switch (:mod:`recstack.llm`), with structured
    answers; a local scorer answers whenever the endpoint is unavailable.

    Pass it as ``selector`` and/or ``verifier``. Scores are 1.0 for the LLM's pick or yes and
    0.0 otherwise; the fallback's own scores when it answered instead. The link job's chat
    executor asks through :meth:`ask_select` / :meth:`ask_verify` (no fallback: an unavailable
    endpoint pauses the job).

    Args:
        client: an open :class:`recstack.llm.ChatClient` (``open_chat_client(settings)``).
        fallback: the local scorer (a fitted matcher or bundle) used when the LLM is down;
            None lets :class:`recstack.llm.LLMUnavailable` through.
        threshold: the fallback's decision threshold.
        max_attempts: tries of one question whose answer does not fit the schema.
        backoff_s: first wait between tries; doubled each time (with full jitter), at most 30 s.
        or_nearby: ask the seed's 1:1 question as it was ("the same place or nearby").
    """

    def __init__(self, client: Any, fallback: Any = None, *, threshold: float = 0.5,
                 max_attempts: int = 1, backoff_s: float = 0.5, or_nearby: bool = False):
        self.client = client
        self.fallback = fallback
        self.threshold = threshold
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.or_nearby = or_nearby
        self.fallbacks = 0  # calls the local scorer answered because the LLM was unavailable

    def _ask(self, messages: list[dict[str, str]], output: type[BaseModel]) -> Any:
        """One question; an answer that does not fit ``output`` is asked again (connection
        errors, 429 and 5xx are retried by the client itself). tenacity would do this, but it
        is no dependency of recstack, and the loop is this short."""
        from recstack.llm import LLMOutputError

        for attempt in range(self.max_attempts):
            try:
                return self.client.complete_json(messages, output=output)
            except LLMOutputError:
                if attempt + 1 == self.max_attempts:
                    raise
                time.sleep(random.uniform(0, min(30.0, self.backoff_s * 2 ** attempt)))
        raise AssertionError("unreachable")  # pragma: no cover

    def ask_select(self, record: Record, candidates: Sequence[Record]) -> int:
        """The 1:N question's answer as given: a candidate's number from 1, 0 for none (the
        caller checks it is at most ``len(candidates)``)."""
        return int(self._ask(select_messages(record, candidates), Choice).candidate)

    def ask_verify(self, left: Record, right: Record) -> bool:
        """The 1:1 question's answer: yes is True."""
        messages = verify_messages(left, right, or_nearby=self.or_nearby)
        return bool(self._ask(messages, Verdict).answer == "yes")

    def select(self, record: Record, candidates: list[Record]) -> Selection:
        from recstack.llm import LLMOutputError, LLMUnavailable

        if not candidates:
            return Selection(None, float("nan"), np.empty(0))
        try:
            chosen = self.ask_select(record, candidates)
        except LLMUnavailable:
            if self.fallback is None:
                raise
            self.fallbacks += 1
            return select_many([record], [candidates], self.fallback,
                               threshold=self.threshold)[0]
        if chosen > len(candidates):
            raise LLMOutputError(f"the model chose candidate {chosen} of {len(candidates)}")
        scores = np.zeros(len(candidates))
        if chosen == 0:
            return Selection(None, 0.0, scores)
        scores[chosen - 1] = 1.0
        return Selection(chosen - 1, 1.0, scores)

    def verify(self, left: Record, right: Record) -> Verification:
        from recstack.llm import LLMUnavailable

        try:
            yes = self.ask_verify(left, right)
        except LLMUnavailable:
            if self.fallback is None:
                raise
            self.fallbacks += 1
            return verify_many([left], [right], self.fallback, threshold=self.threshold)[0]
        return Verification(yes, 1.0 if yes else 0.0)
