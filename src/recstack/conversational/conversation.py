"""Multi-turn conversations: a LangGraph state graph, one checkpointed thread per conversation.

Each turn runs ``understand`` → one of ``answer`` / ``recommend`` (open recommendations, see
:mod:`.recommend`) / ``clarify`` / ``decline`` / ``refuse``. The
thread's state (in a SQLite checkpoint file under the chat home) keeps the previous answered
turn — its slots, the user's direction word and the merchant ids it returned — and a question
awaiting a clarification. A question is read with :meth:`QuestionParser.read`, which assumes
nothing; the gaps are then filled:

- **follow-up** (a previous turn exists, the question names some slot, and it says 그 중/이 중,
  같은 동네, names no place, or names no share — ``애월은?``): unnamed slots come from the
  previous turn. ``그 중 …`` ranks
  among the previous answer (k 1 unless said); a new share (``40대는?``, ``저녁은?``) keeps the
  place, category, k, bands and direction word; a new category or place (``같은 동네
  베이커리는?``, ``애월은?``) keeps the share and drops the previous answer set.
- **clarify**: no share to rank by, or a district in both cities (월평동): one question back;
  the reply is read together with the waiting question. A second miss is declined, not asked
  again.
- **decline**: a place outside Jeju, or nothing about Jeju food and drink.
- **refuse**: a DataError (unknown name, k out of range) — raised to the caller after the turn,
  so the thread's state is unchanged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from recstack.conversational.ask import NEARNESS_BASIS
from recstack.conversational.nearness import NEAR_RADIUS_KM
from recstack.conversational.parser import ParsedQuestion, Reading
from recstack.conversational.schema import SHARE_BY_PROP
from recstack.errors import DataError, missing_extra

if TYPE_CHECKING:
    from recstack.conversational.ask import Answer, Asker

CLARIFY_SHARE = ("어떤 기준으로 고를까요? 연령대(30대), 성별(여성), 현지인/관광객, 요일(토요일), "
                 "시간대(점심, 저녁) 중 하나를 말씀해 주세요.")
DECLINE_TOPIC = ("죄송해요, 저는 제주의 음식점과 카페에 관한 질문에만 답할 수 있어요. "
                 "예: '애월 카페 중 30대 비중이 가장 높은 곳은?'")
DECLINE_UNCLEAR = ("죄송해요, 무엇을 기준으로 고를지 알 수 없어 답하지 못했어요. 예: '30대 비중이 "
                   "가장 높은 곳'처럼 기준을 넣어 다시 물어봐 주세요.")


class TurnState(TypedDict, total=False):
    """One thread's state (checkpointed; plain JSON-like values only)."""

    question: str
    previous: dict[str, Any] | None  # the last answered turn: slots, share word, low, ids
    pending: str | None  # a question waiting for the reply to a clarifying question
    plan: dict[str, Any]  # this turn: route, slots or message
    reply: dict[str, Any]  # this turn's Answer as a dict


def follows_up(reading: Reading, previous: dict[str, Any] | None) -> bool:
    """Whether ``reading`` refers back to ``previous`` (see the module docstring)."""
    if not previous or not reading.says_anything():
        return False
    return (reading.restrict or reading.same_place or reading.share is None
            or (reading.district is None and reading.city is None
                and reading.attraction is None))


def merge(reading: Reading, previous: dict[str, Any]) -> dict[str, Any]:
    """The slots of a follow-up: what ``reading`` names, the rest from ``previous``."""
    slots = dict(previous["slots"])
    share = reading.share or previous["share"]
    low = reading.low if reading.low is not None else previous["low"]
    slots["k"] = reading.k or (1 if reading.restrict else slots["k"])
    moved = False
    if (reading.district or reading.city or reading.attraction) and not reading.same_place:
        moved = ((reading.district, reading.city, reading.attraction)
                 != (slots["district"], slots["city"], slots.get("attraction")))
        slots["district"], slots["city"] = reading.district, reading.city
        slots["attraction"] = reading.attraction  # 애월은? after 성산일출봉 근처: no longer near
        slots["radius_km"] = reading.radius_km or NEAR_RADIUS_KM
    if reading.category and reading.category != slots["category"]:
        slots["category"], moved = reading.category, True
    if reading.filters:
        slots["filters"] = [list(f) for f in reading.filters]
    if reading.restrict:
        slots["among"] = list(previous["ids"])
    elif moved:
        slots["among"] = None
    if share == "km" and not slots.get("attraction"):
        share = None  # "nearest" means nothing once the attraction is gone: ask what to rank by
    return {"slots": slots, "share": share, "low": low}


def standalone(reading: Reading) -> dict[str, Any]:
    """The slots of a question on its own (no place = all of Jeju, k 1)."""
    slots = {"share": None, "descending": True, "k": reading.k or 1, "district": reading.district,
             "city": reading.city, "category": reading.category,
             "filters": [list(f) for f in reading.filters], "among": None,
             "attraction": reading.attraction,
             "radius_km": reading.radius_km or NEAR_RADIUS_KM}
    return {"slots": slots, "share": reading.share, "low": reading.low}


def to_parsed(plan: dict[str, Any]) -> ParsedQuestion | None:
    """The plan's ParsedQuestion, or None while it has no share."""
    resolved = Reading(share=plan["share"], low=plan["low"]).resolved()
    if resolved is None:
        return None
    slots = dict(plan["slots"])
    slots["share"], slots["descending"] = resolved
    slots["filters"] = [tuple(f) for f in slots["filters"]]
    return ParsedQuestion(**slots)


class Conversation:
    """The state graph over one :class:`~recstack.conversational.ask.Asker`.

    Args:
        asker: answers the resolved slots (parser, validator, graph).
        path: the SQLite checkpoint file; None keeps threads in memory (tests, one process).
    """

    def __init__(self, asker: Asker, path: Path | None = None):
        try:
            from langgraph.graph import END, START, StateGraph
        except ModuleNotFoundError as exc:
            raise (missing_extra(exc) or exc) from None
        self.asker = asker
        self._conn: Any = None
        if path is None:
            from langgraph.checkpoint.memory import InMemorySaver

            saver: Any = InMemorySaver()
        else:
            from langgraph.checkpoint.sqlite import SqliteSaver

            from recstack.sqlite import open_wal

            # One connection shared by the service's threads: SqliteSaver locks around it.
            self._conn = open_wal(path, check_same_thread=False)
            saver = SqliteSaver(self._conn)
        graph = StateGraph(TurnState)
        graph.add_node("understand", self._understand)
        graph.add_node("answer", self._answer)
        graph.add_node("clarify", self._clarify)
        graph.add_node("decline", self._decline)
        graph.add_node("refuse", self._refuse)
        graph.add_node("recommend", self._recommend)
        graph.add_edge(START, "understand")
        graph.add_conditional_edges("understand", lambda state: state["plan"]["route"],
                                    ["answer", "clarify", "decline", "refuse", "recommend"])
        for node in ("answer", "clarify", "decline", "refuse", "recommend"):
            graph.add_edge(node, END)
        self.graph = graph.compile(checkpointer=saver)
        self._lock = threading.Lock()

    def turn(self, question: str, thread: str) -> Answer:
        """One turn of conversation ``thread``; a DataError when the question names something
        unknown (the thread is then left as it was)."""
        started = time.perf_counter()
        state = self.graph.invoke({"question": question},
                                  {"configurable": {"thread_id": str(thread)}})
        plan = state["plan"]
        if plan["route"] == "refuse":
            raise DataError(plan["message"], field=plan["field"], fix=plan["fix"])
        from recstack.conversational.ask import Answer

        answer = Answer(**state["reply"])
        answer.thread = str(thread)
        answer.timings_ms["turn_ms"] = round(1000 * (time.perf_counter() - started), 3)
        return answer

    def history(self, thread: str) -> dict[str, Any]:
        """The thread's checkpointed state (empty for a new thread)."""
        return dict(self.graph.get_state({"configurable": {"thread_id": str(thread)}}).values)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- nodes -------------------------------------------------------------------------------

    def _understand(self, state: TurnState) -> dict[str, Any]:
        question, previous, pending = state["question"], state.get("previous"), state.get(
            "pending")
        parser = self.asker.parser
        try:
            text = question
            reading = parser.read(text, strict=False)
            if pending and not (reading.share and (reading.district or reading.category)):
                # The reply to a clarifying question: read it with the question that waited.
                text = f"{question} {pending}"
                reading = parser.read(text, strict=False)
            if reading.wants_recommendation() and self.asker.recommender() is not None:
                return {"plan": {"route": "recommend", "text": text,
                                 "reading": asdict(reading)}}
            if reading.topic is not None:
                parser.read(text)  # raises: an unknown category in a data question
        except DataError as exc:
            if exc.field == "attraction" and "attractions:" not in str(exc):
                return {"plan": {"route": "decline", "message": _unknown_attraction(exc)}}
            if any(w in str(exc) for w in ("districts:", "attractions:")):
                if pending:  # asked once already: at most one clarifying question
                    return {"plan": {"route": "decline", "message": "죄송해요, 어느 동네인지 "
                                     "알 수 없어 답하지 못했어요. " + _which_district(exc)}}
                return {"plan": {"route": "clarify", "message": _which_district(exc),
                                 "pending": question}}
            return {"plan": {"route": "refuse", "message": exc.args[0], "field": exc.field,
                             "fix": exc.fix}}
        if reading.elsewhere:
            return {"plan": {"route": "decline", "message": (
                f"죄송해요, '{reading.elsewhere}'은(는) 제주 밖이에요. 저는 제주의 음식점과 카페만 "
                "안내할 수 있어요.")}}
        if follows_up(reading, previous):
            assert previous is not None
            plan = merge(reading, previous)
            if self.asker.llm is not None:  # every follow-up, with the thread, as Text2Cypher
                plan["question"] = question
                plan["context"] = {key: previous.get(key)
                                   for key in ("question", "slots", "cypher", "ids")}
        elif not reading.says_anything() and not reading.food:
            return {"plan": {"route": "decline", "message": DECLINE_TOPIC}}
        else:
            plan = standalone(reading)
            plan["question"] = text  # the LLM path (when on) writes Cypher for it
        if plan["share"] is None and plan["slots"].get("attraction"):
            plan["share"] = "km"  # 한라산 가까운 식당: nearest first
        if plan["share"] is None:
            if pending:  # asked once already: at most one clarifying question
                return {"plan": {"route": "decline", "message": DECLINE_UNCLEAR}}
            return {"plan": {"route": "clarify", "message": CLARIFY_SHARE,
                             "pending": question}}
        return {"plan": {"route": "answer", **plan}}

    def _answer(self, state: TurnState) -> dict[str, Any]:
        plan = state["plan"]
        parsed = to_parsed(plan)
        assert parsed is not None
        if self.asker.llm is not None and "question" in plan:
            answer = self.asker.ask_llm(plan["question"], lambda: parsed, plan.get("context"),
                                        parsed.among if plan.get("context") else None)
        else:
            answer = self.asker.answer_parsed(parsed)
            answer.message = _summary(parsed, answer.answer)
        # The slots are the default path's reading even when the model answered: the next
        # follow-up merges into them (and the model sees them as the previous turn's).
        previous = {"slots": asdict(parsed), "share": plan["share"], "low": plan["low"],
                    "ids": answer.ids, "question": state["question"], "cypher": answer.cypher}
        return {"reply": answer.to_dict(), "previous": previous, "pending": None}

    def _recommend(self, state: TurnState) -> dict[str, Any]:
        plan = state["plan"]
        reading = Reading(**plan["reading"])
        answer = self.asker.recommend(plan["text"], reading)
        # A follow-up ranks among these three (그 중 …) or keeps their place and category.
        slots = asdict(ParsedQuestion(share="", k=1, district=reading.district,
                                      city=reading.city, category=reading.category,
                                      attraction=reading.attraction,
                                      radius_km=reading.radius_km or NEAR_RADIUS_KM))
        previous = {"slots": slots, "share": None, "low": None, "ids": answer.ids}
        return {"reply": answer.to_dict(), "previous": previous, "pending": None}

    def _clarify(self, state: TurnState) -> dict[str, Any]:
        plan = state["plan"]
        return {"reply": _reply("clarify", plan["message"]), "pending": plan["pending"]}

    def _decline(self, state: TurnState) -> dict[str, Any]:
        return {"reply": _reply("decline", state["plan"]["message"]), "pending": None}

    def _refuse(self, state: TurnState) -> dict[str, Any]:
        return {}  # turn() raises; previous and pending stay as they were


def _reply(kind: str, message: str) -> dict[str, Any]:
    return {"answer": [], "cypher": "", "params": {}, "reasons": [], "slots": {},
            "timings_ms": {}, "ids": [], "thread": None, "kind": kind, "message": message}


def _which_district(exc: DataError) -> str:
    names = str(exc.args[0]).split("s: ", 1)[1].strip()
    return f"{names} 중 어느 곳인가요? (예: '{names.split(',')[0].split(' ')[0]}')"


def _unknown_attraction(exc: DataError) -> str:
    """A polite answer to a nearness question about a place the data does not know."""
    known = (exc.fix or "").split(": ", 1)[-1]
    word = str(exc.args[0]).split("'")[1] if "'" in str(exc.args[0]) else ""
    if "no coordinates" in str(exc.args[0]):
        return (f"죄송해요, '{word}'은(는) 좌표가 없어 거리를 잴 수 없어요. 근처의 다른 관광지나 "
                "읍/면/동(예: 애월읍)으로 물어봐 주세요.")
    return (f"죄송해요, '{word}'은(는) 제가 아는 관광지가 아니에요. 저는 제주 관광지 1,353곳을 "
            f"알아요. 혹시 이곳인가요? {known}")


def _summary(parsed: ParsedQuestion, names: list[str]) -> str:
    place = parsed.district or parsed.city or "제주 전체"
    if parsed.attraction:
        place = (f"{parsed.attraction} 근처({parsed.radius_km:g} km 안에 중심이 있는 동네와 "
                 f"{parsed.attraction}이 있는 동네)" + (f" {place}" if parsed.district else ""))
    what = parsed.category or "음식점"
    among = "앞서 답한 곳 중 " if parsed.among is not None else ""
    basis = f" {NEARNESS_BASIS}" if parsed.attraction else ""
    if not names:
        return f"{place} {what} 중 {among}조건에 맞는 곳이 없어요.{basis}"
    if parsed.share == "km":
        return f"{place} {what} 중 {among}가장 가까운 곳: {', '.join(names)}.{basis}"
    label = SHARE_BY_PROP[parsed.share].label
    order = "높은" if parsed.descending else "낮은"
    return f"{place} {what} 중 {among}{label}이 가장 {order} 곳: {', '.join(names)}{basis}"
