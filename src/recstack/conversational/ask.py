"""``ask``: question → slots → Cypher → validator → graph → answer, timed per stage."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from recstack.conversational.graph import GraphStore
from recstack.conversational.parser import ParsedQuestion, QuestionParser, Reading
from recstack.conversational.schema import SHARE_BY_PROP
from recstack.conversational.validator import validate_cypher
from recstack.errors import DataError, NotFoundError

MAX_QUESTION_CHARS = 300


# The name and version answers are logged under (the parser is code, not a registered model).
LOGGED_AS = ("chat-template-parser", "1")


@dataclass
class Answer:
    """Merchant names best first (ties at the k-th place included), the Cypher that found
    them, one reason per name (the ranked share's value) and milliseconds per stage.

    In a conversation (``thread`` set) ``kind`` says what the turn is: ``answer``, ``clarify``
    (one question back; the next turn's reply fills the slot) or ``decline`` (not about Jeju
    food and drink); ``message`` is the sentence to show."""

    answer: list[str]
    cypher: str
    params: dict[str, Any]
    reasons: list[str]
    slots: dict[str, Any]
    timings_ms: dict[str, float] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)  # Merchant ids, in the order of ``answer``
    thread: str | None = None
    kind: str = "answer"
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def log_fields(self, question: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """``features`` and ``output`` of this answer's prediction-log record (the service and
        the chat UI log the same fields, so monitoring reads one shape)."""
        slots = {k: v for k, v in self.slots.items() if k not in ("filters", "among")}
        return ({"question": question, "thread": self.thread, "kind": self.kind, **slots},
                {"prediction": self.answer[0] if self.answer else None, "answer": self.answer,
                 "cypher": self.cypher, **self.timings_ms})


def check_question(question: str, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """The question with its spaces tidied; a DataError (field ``question``) when it is empty
    or longer than ``max_chars``."""
    text = " ".join(question.split())
    if not text:
        raise DataError("the question is empty", field="question",
                        fix="ask e.g. '제주시 한림읍 카페 중 30대 비중이 가장 높은 곳은?'")
    if len(text) > max_chars:
        raise DataError(f"the question is {len(text)} characters long", field="question",
                        fix=f"ask in at most {max_chars} characters")
    return text


class Asker:
    """Answers questions from one graph; the parser's district and category lists are read
    from the graph once."""

    def __init__(self, store: GraphStore, *, max_chars: int = MAX_QUESTION_CHARS,
                 threads_path: Path | None = None,
                 recommender: Callable[[], Any] | None = None, llm: Any | None = None):
        self.store = store
        self.max_chars = max_chars
        self.parser = QuestionParser.from_graph(store)
        self.threads_path = threads_path
        self._conversation: Any = None
        self._recommender_factory = recommender
        self.llm = llm  # a recstack.llm ChatClient: the LLM path, with the default as fallback
        self._recommender: Any = None
        self._lock = threading.Lock()

    def ask(self, question: str, *, thread: str | None = None) -> Answer:
        """The answer to ``question``; a DataError naming what was not understood.

        Args:
            question: a Korean question about Jeju restaurants.
            thread: a conversation's id: the question may then refer back to the thread's
                previous turn ("그 중에 …", "저녁은?") and may be answered with one clarifying
                question; without it every question stands alone.
        """
        text = check_question(question, self.max_chars)
        if thread is not None:
            return self.conversation().turn(text, thread)
        started = time.perf_counter()
        reading = self.parser.read(text, strict=False)
        if reading.wants_recommendation() and self.recommender() is not None:
            return self.recommend(text, reading)
        if self.llm is not None:
            return self.ask_llm(text, lambda: self.parser.parse(text))
        parsed = self.parser.parse(text)
        return self.answer_parsed(parsed, {"parse_ms": _since(started)})

    def ask_llm(self, question: str, default: Callable[[], ParsedQuestion],
                context: dict[str, Any] | None = None,
                among: list[int] | None = None) -> Answer:
        """Text2Cypher by the model (validated, one repair round); the default path's answer,
        saying why, when the endpoint is down or its output is invalid. A follow-up turn
        passes the thread's previous turn (``context``) and the ids it ranks among."""
        from recstack.conversational.llm_path import fallback_note, run_llm_question
        from recstack.errors import RecstackError

        started = time.perf_counter()
        try:
            result = run_llm_question(self.llm, self.store, question, context, among)
        except RecstackError as exc:
            answer = self.answer_parsed(default())
            answer.message = fallback_note(exc)
            answer.timings_ms["llm_ms"] = _since(started)
            return answer
        return Answer(**result, timings_ms={"llm_ms": _since(started)},
                      message="LLM이 쓴 Cypher(검증 통과)로 답했어요"
                      + (" (이전 질문에 이어서)" if context is not None else ""))

    def recommender(self) -> Any:
        """The open-recommendation :class:`~recstack.conversational.recommend.Recommender`,
        built on first use; None when there is none (no factory, or no vectors built)."""
        with self._lock:
            if self._recommender is None and self._recommender_factory is not None:
                try:
                    self._recommender = self._recommender_factory()
                except NotFoundError:
                    self._recommender_factory = None  # no vectors: answer without them
            return self._recommender

    def recommend(self, question: str, reading: Reading) -> Answer:
        """The three best merchants for an open recommendation, with reasons."""
        recommender = self.recommender()
        hyde, note = None, ""
        if self.llm is not None and recommender.encode_passage is not None:
            from recstack.conversational.llm_path import fallback_note, hyde_document
            from recstack.errors import RecstackError

            try:
                hyde = recommender.encode_passage([hyde_document(self.llm, question)])[0]
            except RecstackError as exc:
                note = f"HyDE 없이 검색했어요 ({fallback_note(exc)}). "
        result, _ = recommender.recommend(question, reading, k=3 if self.llm is None else 6,
                                          hyde=hyde)
        if self.llm is not None:  # PALR: the model chooses three of the six, or we do
            from recstack.conversational.llm_path import fallback_note, palr_choose
            from recstack.errors import RecstackError

            candidates = [{"name": n, "facts": r.split(": ", 1)[-1]}
                          for n, r in zip(result["answer"], result["reasons"], strict=True)]
            try:
                picks = palr_choose(self.llm, question, candidates)
                index = {n: i for i, n in enumerate(result["answer"])}
                order = [index[name] for name, _ in picks]
                result["reasons"] = [f"{name}: {why} (LLM; {candidates[index[name]]['facts']})"
                                     for name, why in picks]
                note += "LLM이 후보 중에서 골랐어요. "
            except RecstackError as exc:
                order = [0, 1, 2]
                note += fallback_note(exc) + ". "
                result["reasons"] = [result["reasons"][i] for i in order
                                     if i < len(result["reasons"])]
            order = [i for i in order if i < len(result["answer"])]
            result["answer"] = [result["answer"][i] for i in order]
            result["ids"] = [result["ids"][i] for i in order]
            result["params"] = {"ids": result["ids"]}
        names = result["answer"]
        message = note + (("추천: " + ", ".join(names)) if names
                          else "조건에 맞는 곳을 찾지 못했어요.")
        return Answer(**result, message=message)

    def conversation(self) -> Any:
        """The :class:`~recstack.conversational.conversation.Conversation` over this asker,
        checkpointed in ``threads_path`` (in memory without one); built on first use."""
        with self._lock:
            if self._conversation is None:
                from recstack.conversational.conversation import Conversation

                self._conversation = Conversation(self, self.threads_path)
            return self._conversation

    def answer_parsed(self, parsed: ParsedQuestion,
                      timings: dict[str, float] | None = None) -> Answer:
        """Run the slots of one question: Cypher, validator, graph."""
        timings = dict(timings or {})
        started = time.perf_counter()
        cypher, params = parsed.cypher()
        timings["parse_ms"] = timings.get("parse_ms", 0.0) + _since(started)
        started = time.perf_counter()
        validate_cypher(cypher, self.store, params)
        timings["validate_ms"] = _since(started)
        started = time.perf_counter()
        rows = self.store.query(cypher, params)
        timings["query_ms"] = _since(started)
        return Answer(answer=[str(r["name"]) for r in rows], cypher=cypher, params=params,
                      reasons=[_reason(parsed, r) for r in rows], slots=asdict(parsed),
                      timings_ms=timings, ids=[int(r["id"]) for r in rows],
                      message=NEARNESS_BASIS if parsed.attraction else "")

    def close(self) -> None:
        """Close the conversation's checkpoint file (the graph store is the caller's)."""
        with self._lock:
            if self._conversation is not None:
                self._conversation.close()
                self._conversation = None


# Merchants have a 읍/면/동, not coordinates: every distance says what it is measured from.
NEARNESS_BASIS = ("거리는 가게가 속한 읍/면/동의 중심(그 동네 관광지 좌표의 평균)에서 잰 값이라, "
                  "같은 동네 가게는 거리가 같아요.")


def _reason(parsed: ParsedQuestion, row: dict[str, Any]) -> str:
    where = f"{row['name']} ({row['district'] or '주소 없음'}, {row['category']}): "
    km = (f"{parsed.attraction}에서 약 {float(row['km']):.1f} km (동네 중심 기준)"
          if parsed.attraction and row.get("km") is not None else "")
    if parsed.share == "km":
        return where + km
    label = SHARE_BY_PROP[parsed.share].label
    return where + f"{label} {100 * float(row['value']):.1f}%" + (f" · {km}" if km else "")


def _since(started: float) -> float:
    return round(1000 * (time.perf_counter() - started), 3)


def ask(question: str, store: GraphStore) -> Answer:
    """One question against ``store`` (builds the parser each call; keep an :class:`Asker` to
    answer many)."""
    return Asker(store).ask(question)
