"""The conversational system's step of ``recstack demo``: build the Jeju graph and answer two
of the contest's questions (seconds)."""

from __future__ import annotations

from rich.console import Console

from recstack.settings import Settings
from recstack.system import DemoOutcome

QUESTIONS = ("제주시 한림읍에 있는 카페 중 30대 이용 비중이 가장 높은 곳은?",
             "제주시 노형동에 있는 단품요리 전문점 중 이용건수가 상위 10%에 속하고 "
             "현지인 이용 비중이 가장 높은 곳은?")


def run(settings: Settings, console: Console, quick: bool = False) -> DemoOutcome:
    from recstack.conversational.ask import Asker
    from recstack.conversational.build import build_graph
    from recstack.conversational.graph import open_graph
    from recstack.conversational.schema import MERCHANT_CSV

    if not (settings.shared_data_dir / MERCHANT_CSV).is_file():
        console.print(f"chat skipped: no Jeju data at {settings.shared_data_dir / 'jeju'} (set "
                      "RECSTACK_DATA__SHARED_DIR to the shared data folder)")
        return DemoOutcome(summary="skipped: no Jeju data")
    with console.status("chat: building the graph"):
        report = build_graph(settings)
    console.print(f"chat graph: {report.path} ({'built' if report.changed else 'up to date'})")
    store = open_graph(settings)
    try:
        asker = Asker(store)
        for question in QUESTIONS:
            answer = asker.ask(question)
            console.print(f"Q: {question}\nA: {', '.join(answer.answer) or '(none)'}")
    finally:
        store.close()
    base = f"http://{settings.serving.host}:{settings.serving.port}"
    return DemoOutcome(summary="graph built; two contest questions answered", examples=[
        f"curl -X POST {base}/v1/chat -H 'content-type: application/json' "
        f"-d '{{\"question\": \"{QUESTIONS[0]}\"}}'"])
