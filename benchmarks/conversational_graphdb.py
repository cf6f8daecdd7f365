"""kuzu 0.11.3 against ladybug (LadybugDB, Kùzu's maintained successor) for the chat graph.

Both engines get the same graph: recstack's schema DDL (:func:`recstack.conversational.schema.ddl`)
and the frames ``recstack chat build`` loads (the build's own readers), bulk-loaded with
``COPY … FROM $frame``. Then the parser's template Cypher for every parseable question of
``conversational_evalset`` (templates, the contest's examples, hand-written paraphrases) runs on
both, one at a time after a warm-up; the rows must be identical. Last, whether the vector,
full-text and algorithm extensions load with no network (``LOAD``, then ``INSTALL``; for vector
and fts also a tiny index that is created and queried).

ladybug is not a project dependency; install it beside the venv, not into it:

    .venv/bin/pip install --target /tmp/ladybug ladybug
    PYTHONPATH=src:/tmp/ladybug .venv/bin/python benchmarks/conversational_graphdb.py

Writes ``benchmarks/results/conversational_graphdb.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from conversational_evalset import all_questions

RESULTS = Path(__file__).parent / "results"
ENGINES = ("kuzu", "ladybug")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def frames(shared_dir: Path) -> dict[str, Any]:
    """The tables ``build_graph`` copies, made by the build's own readers (same steps)."""
    from recstack.conversational.build import (
        read_attractions,
        read_merchants,
        read_review_keywords,
    )
    from recstack.conversational.schema import ATTRACTION_CSV, MERCHANT_CSV, REVIEW_GLOB

    merchants = read_merchants(shared_dir / MERCHANT_CSV,
                               read_review_keywords(sorted(shared_dir.glob(REVIEW_GLOB))))
    placed = merchants[merchants["district"] != ""]
    districts = placed.drop_duplicates("district")[["district", "city", "dong"]].rename(
        columns={"district": "name"})
    categories = merchants.groupby("category").size().rename("merchants").reset_index().rename(
        columns={"category": "name"})
    attractions, near, distance_to = read_attractions(shared_dir / ATTRACTION_CSV,
                                                      set(districts["name"]))
    return {"Merchant": merchants, "District": districts, "Category": categories,
            "Attraction": attractions,
            "IN_DISTRICT": placed[["id", "district"]].rename(columns={"id": "from",
                                                                     "district": "to"}),
            "OF_CATEGORY": merchants[["id", "category"]].rename(columns={"id": "from",
                                                                        "category": "to"}),
            "NEAR": near, "DISTANCE_TO": distance_to}


def build(engine: Any, path: Path, tables: dict[str, Any]) -> tuple[Any, Any, float]:
    """A fresh database with the schema and every table; (database, connection, seconds)."""
    from recstack.conversational.schema import ddl

    started = time.perf_counter()
    db = engine.Database(str(path))
    conn = engine.Connection(db)
    for statement in ddl():
        conn.execute(statement)
    for label, frame in tables.items():
        conn.execute(f"COPY {label} FROM $frame", {"frame": frame})
    return db, conn, time.perf_counter() - started


def extensions(conn: Any) -> dict[str, str]:
    """Whether each extension is usable offline: "ok" or the engine's error."""
    checks = {
        "vector": ["CREATE NODE TABLE V(id INT64, e FLOAT[3], PRIMARY KEY(id))",
                   "CREATE (:V {id: 1, e: [1.0, 0.0, 0.0]})",
                   "CALL CREATE_VECTOR_INDEX('V', 'vi', 'e')",
                   "CALL QUERY_VECTOR_INDEX('V', 'vi', CAST([1.0, 0.0, 0.0] AS FLOAT[3]), 1) "
                   "RETURN node.id"],
        "fts": ["CREATE NODE TABLE D(id INT64, t STRING, PRIMARY KEY(id))",
                "CREATE (:D {id: 1, t: 'black pork restaurant'})",
                "CALL CREATE_FTS_INDEX('D', 'di', ['t'])",
                "CALL QUERY_FTS_INDEX('D', 'di', 'pork') RETURN node.id"],
        "algo": [],
    }
    out = {}
    for name, statements in checks.items():
        try:
            try:
                conn.execute(f"LOAD {name}")
            except RuntimeError:
                conn.execute(f"INSTALL {name}")  # the only way left: a download
                conn.execute(f"LOAD {name}")
            for statement in statements:
                conn.execute(statement)
            out[name] = "ok"
        except RuntimeError as exc:
            out[name] = str(exc).splitlines()[0][:200]
    return out


def measure(engine_name: str, shared_dir: Path, n_templates: int,
            repeats: int) -> dict[str, Any]:
    """One engine, in its own process: build, every query ``repeats`` times, extensions."""
    from recstack.conversational.parser import QuestionParser
    from recstack.errors import RecstackError

    engine = importlib.import_module(engine_name)
    tables = frames(shared_dir)
    # The parser over the graph's districts and categories (what from_graph reads).
    parser = QuestionParser(tables["District"]["name"], tables["Category"]["name"],
                            tables["Attraction"].to_dict("records"))
    queries = []
    for question in all_questions(shared_dir, n_templates):
        try:
            queries.append((question.kind, *parser.parse(question.text).cypher(),
                            question.answer))
        except RecstackError:
            continue  # declined or unparseable: no Cypher to compare
    with tempfile.TemporaryDirectory() as home:
        db, conn, seconds = build(engine, Path(home) / "graph.db", tables)
        conn.execute(queries[0][1], queries[0][2])  # warm-up
        timings, answers = [], []
        for repeat in range(repeats):
            for _, cypher, params, _ in queries:
                started = time.perf_counter()
                rows = list(conn.execute(cypher, params).get_all())
                timings.append(1000 * (time.perf_counter() - started))
                if repeat == 0:
                    answers.append(rows)
        result_names = [{str(row[1]) for row in rows} for rows in answers]
        correct = [got == q[3] for got, q in zip(result_names, queries, strict=True)]
        offline = extensions(conn)
        conn.close()
        db.close()
    return {"version": engine.__version__, "build_seconds": round(seconds, 3),
            "query_ms": {"p50": round(statistics.median(timings), 3),
                         "p95": round(_quantile(timings, 0.95), 3),
                         "mean": round(statistics.fmean(timings), 3)},
            "exact_answer_accuracy": round(sum(correct) / len(correct), 4),
            "extensions_offline": offline,
            "queries": len(queries),
            "by_kind": {kind: sum(q[0] == kind for q in queries)
                        for kind in sorted({q[0] for q in queries})},
            "cypher": [q[1] for q in queries], "answers": answers}


def run(shared_dir: Path, n_templates: int, repeats: int) -> dict[str, Any]:
    """Each engine in a child process: kuzu and ladybug register the same pybind11 types and
    cannot be imported into one interpreter."""
    measured = {}
    for name in ENGINES:
        done = subprocess.run(
            [sys.executable, __file__, "--engine", name, "--shared-dir", str(shared_dir),
             "--templates", str(n_templates), "--repeats", str(repeats)],
            check=True, capture_output=True, text=True)
        measured[name] = json.loads(done.stdout)
    kuzu, ladybug = (measured[name] for name in ENGINES)
    assert kuzu["cypher"] == ladybug["cypher"]  # same questions, same Cypher
    different = [i for i, (a, b) in enumerate(zip(kuzu["answers"], ladybug["answers"],
                                                  strict=True)) if a != b]
    return {"engines": {name: {k: v for k, v in m.items()
                               if k not in ("cypher", "answers", "queries", "by_kind")}
                        for name, m in measured.items()},
            "queries": kuzu["queries"], "by_kind": kuzu["by_kind"], "repeats": repeats,
            "identical_answers": not different, "different": len(different),
            "different_examples": [kuzu["cypher"][i] for i in different[:3]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-dir", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--templates", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engine", choices=ENGINES, help="(internal) measure one engine")
    parser.add_argument("--out", type=Path, default=RESULTS / "conversational_graphdb.json")
    args = parser.parse_args()
    if args.engine:
        sys.stdout.write(json.dumps(measure(args.engine, args.shared_dir, args.templates,
                                            args.repeats), ensure_ascii=False, default=str))
        return
    measured = run(args.shared_dir, args.templates, args.repeats)
    import os

    measured.update({"python": platform.python_version(), "machine": platform.machine(),
                     "load_average": os.getloadavg(),
                     "command": "PYTHONPATH=src:/tmp/ladybug .venv/bin/python "
                                f"benchmarks/conversational_graphdb.py --templates {args.templates}"
                                f" --repeats {args.repeats}"})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(measured, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.write(json.dumps({k: v for k, v in measured.items()
                                 if k != "different_examples"}, ensure_ascii=False, indent=2)
                     + "\n")


if __name__ == "__main__":
    main()
