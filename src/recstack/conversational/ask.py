"""``ask``: question → slots → Cypher → validator → graph → answer, timed per stage."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from recstack.conversational.graph import GraphStore
from recstack.conversational.parser import ParsedQuestion, QuestionParser
from recstack.conversational.schema import SHARE_BY_PROP
from recstack.conversational.validator import validate_cypher
from recstack.errors import DataError

MAX_QUESTION_CHARS = 300


@dataclass
class Answer:
    """Merchant names best first (ties at the k-th place included), the Cypher that found
    them, one reason per name (the ranked share's value) and milliseconds per stage."""

    answer: list[str]
    cypher: str
    params: dict[str, Any]
    reasons: list[str]
    slots: dict[str, Any]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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

    def __init__(self, store: GraphStore, *, max_chars: int = MAX_QUESTION_CHARS):
        self.store = store
        self.max_chars = max_chars
        self.parser = QuestionParser.from_graph(store)

    def ask(self, question: str) -> Answer:
        """The answer to ``question``; a DataError naming what was not understood."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        parsed = self.parser.parse(check_question(question, self.max_chars))
        cypher, params = parsed.cypher()
        timings["parse_ms"] = _since(started)
        started = time.perf_counter()
        validate_cypher(cypher, self.store, params)
        timings["validate_ms"] = _since(started)
        started = time.perf_counter()
        rows = self.store.query(cypher, params)
        timings["query_ms"] = _since(started)
        return Answer(answer=[str(r["name"]) for r in rows], cypher=cypher, params=params,
                      reasons=[_reason(parsed, r) for r in rows], slots=asdict(parsed),
                      timings_ms=timings)


def _reason(parsed: ParsedQuestion, row: dict[str, Any]) -> str:
    label = SHARE_BY_PROP[parsed.share].label
    return (f"{row['name']} ({row['district'] or '주소 없음'}, {row['category']}): "
            f"{label} {100 * float(row['value']):.1f}%")


def _since(started: float) -> float:
    return round(1000 * (time.perf_counter() - started), 3)


def ask(question: str, store: GraphStore) -> Answer:
    """One question against ``store`` (builds the parser each call; keep an :class:`Asker` to
    answer many)."""
    return Asker(store).ask(question)
