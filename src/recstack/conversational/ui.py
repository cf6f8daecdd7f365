"""The Streamlit chat UI (``recstack chat ui``): questions in, result cards and a map out.

Run by Streamlit as a script (``streamlit run .../ui.py``); importing it as a module is cheap
(Streamlit and pydeck are imported inside :func:`main`), so its helpers are tested without a
browser. Each answer shows one card per merchant (name, category, district, the share that
ranked it, the reason), the Cypher that found them in an expander, and a map.

The data has no coordinates for merchants, only for attractions: a merchant is drawn at the
centre (mean latitude and longitude) of the geocoded attractions in its 읍/면/동, the same
centre the graph's NEAR distances are measured from. Merchants of one district share a point;
a district without a geocoded attraction is left off the map, and the map says so.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from recstack.conversational.schema import SHARE_BY_PROP
from recstack.errors import RecstackError

if TYPE_CHECKING:
    from recstack.conversational.ask import Answer, Asker
    from recstack.conversational.graph import GraphStore
    from recstack.monitoring.log import PredictionLog

log = logging.getLogger(__name__)

EXAMPLES = ("제주시 한림읍에 있는 카페 중 30대 이용 비중이 가장 높은 곳은?",
            "애월읍 일식집 중 여성 비중이 높은 곳 3곳",
            "노형동 단품요리 전문점 중 이용건수 상위 10%이고 현지인 비중이 가장 높은 곳은?")
MAP_NOTE = ("Merchants have no coordinates in the data: each is drawn at the centre of the "
            "geocoded attractions in its 읍/면/동.")


@dataclass
class Card:
    """One answered merchant as the UI shows it."""

    rank: int
    name: str
    category: str
    district: str
    share_label: str  # e.g. "30대 고객 비중"; empty when the answer ranked by no share
    share_value: float | None  # 0…1
    reason: str


def district_centres(store: GraphStore) -> dict[str, tuple[float, float]]:
    """(lat, lng) of each district: the mean of its geocoded attractions."""
    rows = store.query("MATCH (a:Attraction) WHERE a.district <> '' AND a.lat IS NOT NULL "
                       "RETURN a.district AS district, avg(a.lat) AS lat, avg(a.lng) AS lng")
    return {str(r["district"]): (float(r["lat"]), float(r["lng"])) for r in rows}


def attraction_points(store: GraphStore) -> list[list[float]]:
    """[lng, lat] of every geocoded attraction: drawn faintly under the answers, they sketch
    the island where no base-map tiles can be fetched."""
    rows = store.query("MATCH (a:Attraction) WHERE a.lat IS NOT NULL "
                       "RETURN a.lng AS lng, a.lat AS lat")
    return [[float(r["lng"]), float(r["lat"])] for r in rows]


def answer_cards(store: GraphStore, answer: Answer) -> list[Card]:
    """A card per answered merchant, best first.

    The answer carries names and reason strings; the category, district and ranked value come
    from running the answer's own (already validated, read-only) Cypher again, a few
    milliseconds on the embedded graph.
    """
    rows = store.query(answer.cypher, answer.params) if answer.cypher else []
    if [str(r.get("name")) for r in rows] != list(answer.answer):
        # Not the same rows (another kind of answer): match by name, first row wins.
        by_name: dict[str, dict[str, Any]] = {}
        for row in rows:
            by_name.setdefault(str(row.get("name")), row)
        rows = [by_name.get(name, {}) for name in answer.answer]
    share = SHARE_BY_PROP.get(str(answer.slots.get("share")))
    cards = []
    for rank, (name, row) in enumerate(zip(answer.answer, rows, strict=True), 1):
        value = row.get("value")
        cards.append(Card(
            rank=rank, name=name, category=str(row.get("category") or ""),
            district=str(row.get("district") or ""),
            share_label=share.label if share else "",
            # Nearest first ranks by km, not a share: the reason line gives the distance.
            share_value=(float(value) if value is not None
                         and answer.slots.get("share") != "km" else None),
            reason=answer.reasons[rank - 1] if rank <= len(answer.reasons) else ""))
    return cards


def map_points(cards: list[Card], centres: dict[str, tuple[float, float]]) -> list[dict[str, Any]]:
    """One point per district that holds answered merchants (names joined, best first)."""
    points: dict[str, dict[str, Any]] = {}
    for card in cards:
        if card.district not in centres:
            continue
        lat, lng = centres[card.district]
        point = points.setdefault(card.district, {"district": card.district, "lat": lat,
                                                  "lng": lng, "names": []})
        point["names"].append(f"{card.rank}. {card.name}")
    return [{**p, "names": ", ".join(p["names"])} for p in points.values()]


def reply(asker: Asker, question: str, centres: dict[str, tuple[float, float]],
          thread: str | None = None, prediction_log: PredictionLog | None = None
          ) -> dict[str, Any]:
    """The assistant's message for ``question`` as plain data (kept in the chat history).

    A question the system cannot answer comes back as ``error`` (message and fix), never as
    an exception; ``thread`` is the conversation's id, for follow-up questions; every answer
    goes to the ``prediction_log`` like the service's.
    """
    try:
        answer = asker.ask(question, thread=thread)
        if prediction_log is not None:
            from recstack.conversational.ask import LOGGED_AS
            from recstack.monitoring.log import PredictionRecord

            features, output = answer.log_fields(question)
            prediction_log.log(PredictionRecord(model_name=LOGGED_AS[0], model_version=LOGGED_AS[1],
                                                features=features, output=output))
        if answer.kind != "answer":  # a clarifying question back, or a polite decline
            return {"role": "assistant", "note": answer.message, "thread": thread}
        cards = answer_cards(asker.store, answer)
    except RecstackError as exc:
        return {"role": "assistant", "error": {"message": exc.message, "field": exc.field,
                                               "fix": exc.fix}}
    except Exception:  # a bug: logged with its traceback, shown as one line
        log.exception("the chat UI could not answer %r", question)
        return {"role": "assistant", "error": {
            "message": "something went wrong while answering; the server log has the details",
            "field": None, "fix": "try another wording, or report it with the question"}}
    placed = map_points(cards, centres)
    unplaced = [c.name for c in cards if c.district not in centres]
    return {"role": "assistant", "cards": [asdict(c) for c in cards], "cypher": answer.cypher,
            "params": answer.params, "points": placed, "unplaced": unplaced,
            "thread": thread, "timings_ms": answer.timings_ms}


# --- the page (Streamlit) ---------------------------------------------------------------------

def _open_asker(graph_file: str) -> tuple[Asker, dict[str, tuple[float, float]],
                                          list[list[float]], PredictionLog]:
    """The service's Asker (threads, open recommendations, the LLM switch), the district
    centres, the attractions' coordinates and the prediction log, per graph file and UI server
    (cached by Streamlit)."""
    from recstack.conversational.graph import open_lazy_graph
    from recstack.monitoring.log import PredictionLog
    from recstack.settings import get_settings

    settings = get_settings()
    graph = open_lazy_graph(settings)
    asker = graph.asker()
    store = graph.get()
    return asker, district_centres(store), attraction_points(store), PredictionLog(settings)


def _show(message: dict[str, Any], backdrop: list[list[float]]) -> None:
    import streamlit as st

    if message["role"] == "user":
        st.markdown(message["text"])
        return
    if error := message.get("error"):
        st.warning(f"{error['message']}" + (f"  \nFix: {error['fix']}" if error["fix"] else ""))
        return
    if note := message.get("note"):
        st.markdown(note)
        return
    if not message["cards"]:
        st.info("No merchant matches the question.")
    for card in message["cards"]:
        with st.container(border=True):
            left, right = st.columns([3, 1])
            left.markdown(f"**{card['rank']}. {card['name']}**")
            left.caption(" · ".join(x for x in (card["category"], card["district"]) if x))
            if card["share_value"] is not None:
                right.metric(card["share_label"] or "value", f"{100 * card['share_value']:.1f}%")
            st.markdown(card["reason"])
    if message["points"]:
        _map(message["points"], backdrop)
    if message["unplaced"]:
        st.caption("Not on the map (no geocoded attraction in their district): "
                   + ", ".join(message["unplaced"]))
    with st.expander("Cypher"):
        st.code(message["cypher"], language="cypher")
        if message["params"]:
            st.json(message["params"])


def _map(points: list[dict[str, Any]], backdrop: list[list[float]]) -> None:
    import pydeck as pdk
    import streamlit as st

    # The whole island in view (the answers in context), else the answers' centre.
    around = [(p[1], p[0]) for p in backdrop] or [(p["lat"], p["lng"]) for p in points]
    lat = sum(a[0] for a in around) / len(around)
    lng = sum(a[1] for a in around) / len(around)
    island = pdk.Layer("ScatterplotLayer", data=[{"p": p} for p in backdrop], get_position="p",
                       get_radius=150, radius_min_pixels=1, get_fill_color=[120, 120, 120, 90])
    answers = pdk.Layer("ScatterplotLayer", data=points, get_position=["lng", "lat"],
                        get_radius=500, radius_min_pixels=7, get_fill_color=[230, 80, 30, 220],
                        pickable=True)
    st.pydeck_chart(pdk.Deck(layers=[island, answers], initial_view_state=pdk.ViewState(
        latitude=lat, longitude=lng, zoom=8.8),
        tooltip={"text": "{district}\n{names}"}), height=280)
    st.caption(MAP_NOTE + " Grey dots: every geocoded attraction.")


def main() -> None:
    """The page: chat history from the session, one answer per question."""
    import streamlit as st

    from recstack.conversational.graph import graph_path
    from recstack.settings import get_settings

    st.set_page_config(page_title="Jeju restaurants", page_icon="🍊", layout="centered")
    st.title("Jeju restaurant questions")
    state = st.session_state
    state.setdefault("messages", [])
    state.setdefault("thread", uuid.uuid4().hex)
    with st.sidebar:
        st.caption(f"conversation {state.thread[:8]}")
        if st.button("New conversation"):
            state.messages, state.thread = [], uuid.uuid4().hex
        st.markdown("Try:\n" + "\n".join(f"- {q}" for q in EXAMPLES))
    try:
        opened = st.cache_resource(show_spinner="Opening the graph…")(_open_asker)
        asker, centres, backdrop, prediction_log = opened(str(graph_path(get_settings())))
    except RecstackError as exc:  # no graph yet, or kuzu missing: say what to run
        st.error(f"{exc.message}  \nFix: {exc.fix}")
        st.stop()
        return
    for message in state.messages:
        with st.chat_message(message["role"]):
            _show(message, backdrop)
    question = st.chat_input("예: 제주시 한림읍에 있는 카페 중 30대 이용 비중이 가장 높은 곳은?")
    if not question:
        return
    state.messages.append({"role": "user", "text": question})
    with st.chat_message("user"):
        _show(state.messages[-1], backdrop)
    with st.chat_message("assistant"):
        state.messages.append(reply(asker, question, centres, thread=state.thread,
                                     prediction_log=prediction_log))
        _show(state.messages[-1], backdrop)


if __name__ == "__main__":
    main()
