"""Conversational recommender, default path (no LLM): exact-answer accuracy and latency.

The graph is built from the shared Jeju data into a temporary recstack home; every question of
``conversational_evalset`` (template questions, the contest's examples, hand-written
paraphrases) is asked through :class:`recstack.conversational.Asker` and its returned set of
merchant names compared with the set pandas computes from the CSV (ties included). Latency is
per question, one at a time, after one warm-up question: parse (slots and Cypher), validate
(rules and EXPLAIN in kuzu), query, and the total.

    PYTHONPATH=src .venv/bin/python benchmarks/conversational.py

Writes ``benchmarks/results/conversational.json`` and prints a Markdown table for
docs/conversational.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from conversational_evalset import all_questions, conversation_turns

RESULTS = Path(__file__).parent / "results"
TARGETS = {"template_accuracy": 0.95, "paraphrase_accuracy": 0.90, "p95_ms": 300.0}  # issue 15
STAGES = ("parse_ms", "validate_ms", "query_ms", "total_ms")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(shared_dir: Path, n_templates: int) -> dict[str, Any]:
    from recstack.conversational.ask import Asker
    from recstack.conversational.build import build_graph
    from recstack.conversational.graph import open_graph
    from recstack.errors import RecstackError
    from recstack.settings import Settings

    questions = all_questions(shared_dir, n_templates)
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), data={"shared_dir": shared_dir})
        build = build_graph(settings)
        store = open_graph(settings)
        asker = Asker(store, threads_path=Path(home) / "chat" / "threads.sqlite")
        asker.ask(questions[0].text)  # warm-up: first-query plan caches
        rows = []
        for question in questions:
            started = time.perf_counter()
            try:
                answer = asker.ask(question.text)
                got, timings, error = set(answer.answer), dict(answer.timings_ms), None
            except RecstackError as exc:
                got, timings, error = set(), {}, str(exc)
            timings["total_ms"] = 1000 * (time.perf_counter() - started)
            rows.append({"kind": question.kind, "question": question.text,
                         "correct": got == question.answer and error is None,
                         "expected": sorted(question.answer), "got": sorted(got),
                         "error": error, **timings})
        conversations = run_conversations(asker, shared_dir)
        asker.close()
        store.close()
    by_kind = {}
    for kind in ("template", "contest", "paraphrase"):
        chosen = [r for r in rows if r["kind"] == kind]
        by_kind[kind] = {"questions": len(chosen),
                         "accuracy": sum(r["correct"] for r in chosen) / len(chosen)}
    latency = {stage: {"mean": statistics.fmean(r[stage] for r in rows if stage in r),
                       "p95": _quantile([r[stage] for r in rows if stage in r], 0.95)}
               for stage in STAGES}
    return {"build_seconds": build.seconds, "accuracy": by_kind, "latency_ms": latency,
            "conversations": conversations,
            "targets": TARGETS,
            "met": {"template_accuracy": by_kind["template"]["accuracy"]
                    >= TARGETS["template_accuracy"],
                    "paraphrase_accuracy": by_kind["paraphrase"]["accuracy"]
                    >= TARGETS["paraphrase_accuracy"],
                    "p95_ms": latency["total_ms"]["p95"] < TARGETS["p95_ms"],
                    "conversation_p95_ms": conversations["turn_ms"]["p95"] < TARGETS["p95_ms"]},
            "wrong": [r for r in rows if not r["correct"]] + conversations.pop("wrong")}


def run_conversations(asker: Any, shared_dir: Path) -> dict[str, Any]:
    """Every multi-turn conversation in a thread of its own (in-memory checkpoints are not
    used: the asker's checkpointer is a SQLite file, as in the service). A turn is right when
    its kind (answer, clarify, decline) is the expected one and, for an answer, the returned set
    equals the computed set."""
    from recstack.errors import RecstackError

    turns = conversation_turns(shared_dir)
    rows = []
    asker.ask(turns[0].text, thread="warm-up")
    for turn in turns:
        started = time.perf_counter()
        try:
            answer = asker.ask(turn.text, thread=f"conversation-{turn.conversation}")
            kind, got, error = answer.kind, set(answer.answer), None
        except RecstackError as exc:
            kind, got, error = "error", set(), str(exc)
        elapsed = 1000 * (time.perf_counter() - started)
        correct = kind == turn.expect and (kind != "answer" or got == turn.answer)
        rows.append({"kind": "conversation", "conversation": turn.conversation,
                     "turn": turn.index, "question": turn.text, "expect": turn.expect,
                     "got_kind": kind, "correct": correct, "expected": sorted(turn.answer),
                     "got": sorted(got), "error": error, "turn_ms": elapsed})
    by_turn = {}
    for index in sorted({r["turn"] for r in rows}):
        chosen = [r for r in rows if r["turn"] == index]
        by_turn[str(index)] = {"turns": len(chosen),
                               "accuracy": sum(r["correct"] for r in chosen) / len(chosen)}
    follow = [r for r in rows if r["turn"] > 1 and r["expect"] == "answer"]
    return {"conversations": len({r["conversation"] for r in rows}), "turns": len(rows),
            "accuracy": sum(r["correct"] for r in rows) / len(rows),
            "follow_up_answer_accuracy": sum(r["correct"] for r in follow) / len(follow),
            "by_turn": by_turn,
            "turn_ms": {"mean": statistics.fmean(r["turn_ms"] for r in rows),
                        "p95": _quantile([r["turn_ms"] for r in rows], 0.95)},
            "wrong": [r for r in rows if not r["correct"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared-dir", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--templates", type=int, default=400)
    parser.add_argument("--out", type=Path, default=RESULTS / "conversational.json")
    args = parser.parse_args()
    measured = run(args.shared_dir, args.templates)
    result = {
        "protocol": "exact answer: the returned set of merchant names equals the set pandas "
                    "computes from the CSV (ties at the k-th value included); latency per "
                    "question, one at a time, after one warm-up, graph in kuzu on local disk",
        "command": f"benchmarks/conversational.py --templates {args.templates}",
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        **measured,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    lines = ["| questions | n | exact-answer accuracy |", "|---|---:|---:|"]
    for kind, row in measured["accuracy"].items():
        lines.append(f"| {kind} | {row['questions']} | {100 * row['accuracy']:.1f}% |")
    conv = measured["conversations"]
    lines.append(f"| conversation turns ({conv['conversations']} conversations) | "
                 f"{conv['turns']} | {100 * conv['accuracy']:.1f}% |")
    for index, row in conv["by_turn"].items():
        lines.append(f"| … turn {index} | {row['turns']} | {100 * row['accuracy']:.1f}% |")
    lines += ["", "| stage | mean ms | p95 ms |", "|---|---:|---:|"]
    for stage, row in measured["latency_ms"].items():
        lines.append(f"| {stage.removesuffix('_ms')} | {row['mean']:.1f} | {row['p95']:.1f} |")
    lines.append(f"| conversation turn (LangGraph + SQLite checkpoint) | "
                 f"{conv['turn_ms']['mean']:.1f} | {conv['turn_ms']['p95']:.1f} |")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
