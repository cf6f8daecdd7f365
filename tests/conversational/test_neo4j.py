"""The Neo4j switch: what can be tested without a server here, and one test for a real server.

No Neo4j server can run on this project's machines, so everything but the last test checks the
parts that need none: the settings choose the store, an unreachable server is a clear error
(CLI and ``/v1/chat`` 503), the build statements come from the same schema as kuzu's tables,
and every Cypher the system runs uses only what Neo4j reads the same way. The last test needs
``RECSTACK_TEST_NEO4J_URI`` (and ``…_USER``, ``…_PASSWORD``, ``…_DATABASE``) and compares the
answers of the evaluation set's template questions on Neo4j with kuzu's.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import sys
from pathlib import Path

import pytest

from recstack.errors import ConfigError, DataError, NotFoundError
from recstack.settings import Settings

pytest.importorskip("neo4j", reason="the chat extra (neo4j driver) is not installed")

QUESTION = "제주시 한림읍에 있는 카페 중 30대 이용 비중이 가장 높은 곳은?"


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def neo4j_settings(tmp_path: Path, shared: Path | None = None, **chat: object) -> Settings:
    section = {"graph_backend": "neo4j", "neo4j_uri": f"bolt://127.0.0.1:{closed_port()}",
               "neo4j_timeout_s": 3.0, **chat}
    data = {"shared_dir": shared} if shared else {}
    return Settings(home=tmp_path / "home", data=data, systems={"chat": section})


def test_settings_switch_chooses_the_store(tmp_path, monkeypatch):
    from recstack.conversational.graph import GraphUnavailable, graph_backend, open_graph
    from recstack.conversational.system import SPEC

    kuzu = Settings(home=tmp_path / "kuzu")
    assert graph_backend(kuzu) == "kuzu"
    with pytest.raises(NotFoundError, match="recstack chat build"):  # the kuzu file is absent
        open_graph(kuzu)
    with pytest.raises(GraphUnavailable) as raised:  # the Neo4j store, reaching for the server
        open_graph(neo4j_settings(tmp_path))
    assert raised.value.field == "RECSTACK_CHAT__NEO4J_URI"
    monkeypatch.setenv("RECSTACK_CHAT__GRAPH_BACKEND", "neo4j")
    monkeypatch.setenv("RECSTACK_CHAT__NEO4J_PASSWORD", "s3cret-pw")
    from_env = SPEC.settings_of(Settings(home=tmp_path / "env"))
    assert from_env.graph_backend == "neo4j" and "s3cret-pw" not in repr(from_env)
    with pytest.raises(ConfigError) as unset:  # neo4j chosen, no server named
        open_graph(Settings(home=tmp_path / "env"))
    assert unset.value.field == "RECSTACK_CHAT__NEO4J_URI" and "docker run" in str(unset.value.fix)
    monkeypatch.setenv("RECSTACK_CHAT__GRAPH_BACKEND", "mysql")
    with pytest.raises(ConfigError, match="RECSTACK_CHAT__GRAPH_BACKEND"):
        SPEC.settings_of(Settings(home=tmp_path / "bad"))


def test_unreachable_server_is_a_clear_error(tmp_path):
    from recstack.conversational.graph import GraphUnavailable, open_graph

    with pytest.raises(GraphUnavailable) as raised:
        open_graph(neo4j_settings(tmp_path))
    error = raised.value
    assert error.status_code == 503 and error.field == "RECSTACK_CHAT__NEO4J_URI"
    assert "cannot reach Neo4j at bolt://127.0.0.1:" in error.message
    assert "docker run" in str(error.fix) and "RECSTACK_CHAT__NEO4J_URI=" in str(error.fix)
    with pytest.raises(ConfigError, match="not a Neo4j address") as bad:
        open_graph(neo4j_settings(tmp_path, neo4j_uri="ftp://127.0.0.1:7687"))
    assert bad.value.field == "RECSTACK_CHAT__NEO4J_URI"


def test_chat_build_and_chat_endpoint_without_a_server(tmp_path, shared_data, monkeypatch):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from recstack.api.main import create_app
    from recstack.cli import build_app
    from recstack.conversational.graph import GraphUnavailable
    from recstack.settings import get_settings

    settings = neo4j_settings(tmp_path, shared_data)
    with TestClient(create_app(settings)) as client:
        answered = client.post("/v1/chat", json={"question": QUESTION})
    assert answered.status_code == 503, answered.text
    body = answered.json()
    assert body["field"] == "RECSTACK_CHAT__NEO4J_URI" and "docker run" in body["fix"]
    monkeypatch.setenv("RECSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RECSTACK_DATA__SHARED_DIR", str(shared_data))
    monkeypatch.setenv("RECSTACK_CHAT__GRAPH_BACKEND", "neo4j")
    monkeypatch.setenv("RECSTACK_CHAT__NEO4J_URI", f"bolt://127.0.0.1:{closed_port()}")
    get_settings.cache_clear()
    try:
        built = CliRunner().invoke(build_app(), ["chat", "build", "--no-vectors"])
    finally:
        get_settings.cache_clear()
    # The CLI's main() prints a RecstackError as one paragraph (exit code 2), never a traceback.
    assert isinstance(built.exception, GraphUnavailable), built.output
    assert built.exception.field == "RECSTACK_CHAT__NEO4J_URI"


def _ddl_tables() -> dict[str, set[str]]:
    """Label → properties, read back from kuzu's CREATE … TABLE statements."""
    from recstack.conversational.schema import ddl

    tables = {}
    for statement in ddl():
        match = re.match(r"CREATE (?:NODE|REL) TABLE (\w+)\((.*)\)$", statement)
        assert match, statement
        columns = re.findall(r"(?:^|, )(\w+) (?:STRING|INT64|DOUBLE|DATE)", match.group(2))
        tables[match.group(1)] = set(columns)
    return tables


def test_build_statements_come_from_the_same_schema_as_kuzu():
    from recstack.conversational.neo4j_store import (
        constraint_statements,
        edge_statement,
        node_statement,
    )
    from recstack.conversational.schema import EDGES, NODES, PRIMARY_KEYS, ddl

    kuzu = _ddl_tables()
    keys = {re.search(r"TABLE (\w+)", s).group(1): re.search(r"PRIMARY KEY\((\w+)\)", s).group(1)
            for s in ddl() if "PRIMARY KEY" in s}
    constraints = {re.search(r"FOR \(n:(\w+)\) REQUIRE n\.(\w+) IS UNIQUE", s).groups()
                   for s in constraint_statements()}
    assert constraints == set(keys.items()) == set(PRIMARY_KEYS.items())
    for label in NODES:
        statement = node_statement(label)
        key = re.search(r"MERGE \(n:(\w+) \{(\w+): row\.(\w+)\}\)", statement)
        assert key and key.group(1) == label and key.group(2) == key.group(3) == keys[label]
        assigned = re.findall(r"n\.(\w+) = row\.(\w+)", statement)
        assert all(a == b for a, b in assigned)
        assert {a for a, _ in assigned} | {key.group(2)} == kuzu[label], label
    for label, (source, target, _props) in EDGES.items():
        statement = edge_statement(label)
        ends = re.findall(r"MATCH \((?:a|b):(\w+) \{(\w+): row\.(?:src|dst)\}\)", statement)
        assert ends == [(source, keys[source]), (target, keys[target])], statement
        assert f"MERGE (a)-[r:{label}]->(b)" in statement
        assert {p for p, _ in re.findall(r"r\.(\w+) = row\.(\w+)", statement)} == kuzu[label]


def test_build_rows_are_plain_values_with_missing_as_none(shared_data):
    import datetime
    import math

    from recstack.conversational.build import read_tables, review_files
    from recstack.conversational.neo4j_store import records
    from recstack.conversational.schema import (
        ATTRACTION_CSV,
        EDGES,
        MERCHANT_CSV,
        NODES,
        PRIMARY_KEYS,
    )

    if not (shared_data / MERCHANT_CSV).is_file():
        pytest.skip(f"no Jeju merchant data at {shared_data / MERCHANT_CSV}")
    tables = read_tables(shared_data / MERCHANT_CSV, shared_data / ATTRACTION_CSV,
                         review_files(Settings(data={"shared_dir": shared_data})))
    assert list(tables) == [*(n for n in NODES if n != "Meta"), *EDGES]  # Meta: the fingerprint
    for label, frame in tables.items():
        rows = records(frame)
        wanted = (set(NODES[label]) if label in NODES
                  else {"src", "dst", *EDGES[label][2]})
        assert len(rows) == len(frame) and set(rows[0]) == wanted, label
        for row in rows[:300] + rows[-300:]:
            for value in row.values():
                assert value is None or type(value) in (int, float, str, datetime.date), \
                    (label, type(value))
                assert not (isinstance(value, float) and math.isnan(value)), label
        if label in NODES:
            key = PRIMARY_KEYS[label]
            assert len({row[key] for row in rows}) == len(rows), label  # MERGE keys are unique
    attractions = records(tables["Attraction"])
    assert sum(row["lat"] is None for row in attractions) == 58  # not geocoded: no property
    near = records(tables["NEAR"])
    assert any(row["distance_km"] is None for row in near)


def test_kuzu_only_cypher_is_named():
    from recstack.conversational.neo4j_store import kuzu_only

    for cypher in ("MATCH (m:Merchant) RETURN CAST(m.id AS STRING) AS s",
                   "MATCH (m:Merchant) WHERE list_contains($ids, m.id) RETURN m.name AS name",
                   "CALL QUERY_VECTOR_INDEX('Merchant', 'idx', $v, 20) RETURN node.name",
                   "MATCH (m:Merchant) RETURN to_double(m.cnt_band) AS x",
                   "MATCH (m:Merchant) RETURN label(m) AS l",
                   "CALL show_tables() RETURN *",
                   "MATCH p = (a:Attraction)-[* SHORTEST 1..3]->(d:District) RETURN p"):
        assert kuzu_only(cypher), cypher
    assert kuzu_only("MATCH (m:Merchant) WHERE m.id IN $ids RETURN toString(m.id) AS s") == []


def parser_cyphers() -> list[str]:
    """Every shape of query the template parser writes: each slot present or absent, each
    direction, every share, bands, 그 중, near an attraction (ranked or nearest first)."""
    from recstack.conversational.parser import ParsedQuestion
    from recstack.conversational.schema import SHARES

    cyphers = []
    places = [{}, {"district": "제주시 한림읍"}, {"city": "제주시"}]
    for share, descending, place, category, bands, among, near in itertools.product(
            [s.prop for s in SHARES] + ["km"], (True, False), places, (None, "커피"),
            ([], [("cnt_band", 1, 1), ("amt_band", 1, 2)]), (None, [1, 2]), (None, "협재해수욕장")):
        if share == "km" and not near:
            continue
        slots = ParsedQuestion(share=share, descending=descending, k=3, category=category,
                               filters=list(bands), among=among, attraction=near,
                               **place)  # type: ignore[arg-type]
        cyphers.append(slots.cypher()[0])
    return cyphers


def test_every_parser_template_is_portable():
    from recstack.conversational.llm_path import FEW_SHOT
    from recstack.conversational.neo4j_store import kuzu_only
    from recstack.conversational.validator import validate_cypher

    cyphers = parser_cyphers() + [cypher for _, cypher in FEW_SHOT]
    assert len(cyphers) > 1500
    for cypher in cyphers:
        assert kuzu_only(cypher) == [], cypher
        validate_cypher(cypher)  # and the validator's rules, the same on both stores


def test_every_query_the_system_runs_is_portable(store, chat_settings, tmp_path):
    """The fixed queries (the parser's lists, the UI's map, the vectors' documents, FastRP)
    and the answers of a short conversation, recorded as they run on kuzu."""
    from recstack.conversational.ask import Asker
    from recstack.conversational.graph import GraphStore
    from recstack.conversational.neo4j_store import kuzu_only
    from recstack.conversational.ui import attraction_points, district_centres
    from recstack.conversational.vectors import fastrp, merchant_documents

    class Recording(GraphStore):
        def __init__(self, inner: GraphStore):
            self.inner, self.seen = inner, []

        def query(self, cypher, params=None):
            self.seen.append(cypher)
            return self.inner.query(cypher, params)

        def explain(self, cypher, params=None):
            self.seen.append(cypher)
            self.inner.explain(cypher, params)

        def close(self):
            pass

    recording = Recording(store)
    asker = Asker(recording, threads_path=tmp_path / "threads.sqlite")
    try:
        for question in (QUESTION, "그 중에 여성 비중이 가장 높은 곳은?", "저녁은?",
                         "협재해수욕장 근처 카페 중 20대 비중이 가장 높은 곳 2곳",
                         "한라산 가까운 식당 top 5"):
            answer = asker.ask(question, thread="neo4j-portability")
            assert answer.kind == "answer" and answer.answer, question
    finally:
        asker.close()
    district_centres(recording)
    attraction_points(recording)
    merchant_documents(recording, ["제주시 한림읍"])
    fastrp(recording, dim=8)
    assert len(set(recording.seen)) >= 10
    for cypher in set(recording.seen):
        assert kuzu_only(cypher) == [], cypher


NEO4J_URI = os.environ.get("RECSTACK_TEST_NEO4J_URI")


@pytest.mark.skipif(not NEO4J_URI, reason="needs a Neo4j server: set RECSTACK_TEST_NEO4J_URI "
                    "(and RECSTACK_TEST_NEO4J_USER/_PASSWORD/_DATABASE); never run in this "
                    "project's CI, where no Neo4j server can be installed")
def test_same_answers_as_kuzu_on_a_real_neo4j(chat_settings, store, shared_data, tmp_path):
    """Builds the graph on the server (twice: the second changes nothing), then answers the
    evaluation set's template and contest questions with the same Cypher on both stores."""
    from recstack.conversational.build import build_graph
    from recstack.conversational.graph import open_graph
    from recstack.conversational.parser import QuestionParser
    from recstack.conversational.validator import validate_cypher

    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    import conversational_evalset as evalset

    settings = Settings(home=tmp_path / "home", data={"shared_dir": shared_data},
                        systems={"chat": {
                            "graph_backend": "neo4j", "neo4j_uri": NEO4J_URI,
                            "neo4j_user": os.environ.get("RECSTACK_TEST_NEO4J_USER", "neo4j"),
                            "neo4j_password": os.environ.get("RECSTACK_TEST_NEO4J_PASSWORD"),
                            "neo4j_database": os.environ.get("RECSTACK_TEST_NEO4J_DATABASE")}})
    first = build_graph(settings, force=True)
    assert first.changed and first.counts["Merchant"] == 5409
    assert not build_graph(settings).changed
    neo4j = open_graph(settings)
    try:
        with pytest.raises(DataError):  # the read transaction refuses a write
            neo4j.query("CREATE (:Meta {key: 'written', value: 'no'})")
        assert neo4j.query("MATCH (m:Meta {key: 'written'}) RETURN m.key AS k") == []
        kuzu_parser = QuestionParser.from_graph(store)
        assert QuestionParser.from_graph(neo4j).districts == kuzu_parser.districts
        frame = evalset.load_frame(shared_data)
        questions = (evalset.template_questions(frame, 160)
                     + evalset.template_near_questions(frame, 40) + evalset.CONTEST)
        differ = []
        for question in questions:
            cypher, params = kuzu_parser.parse(question.text).cypher()
            validate_cypher(cypher, neo4j, params)  # EXPLAIN on Neo4j
            on_kuzu = [r["name"] for r in store.query(cypher, params)]
            on_neo4j = [r["name"] for r in neo4j.query(cypher, params)]
            if on_kuzu != on_neo4j:
                differ.append((question.text, on_kuzu, on_neo4j))
        assert not differ, differ[:5]
    finally:
        neo4j.close()
