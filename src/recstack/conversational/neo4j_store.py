"""The Neo4j graph store: the same graph and the same Cypher on a Neo4j server, through the
official ``neo4j`` driver (``RECSTACK_CHAT__GRAPH_BACKEND=neo4j``).

No Neo4j server can run on the machines this was written on, so only what needs no server is
tested here (settings, errors for an unreachable server, the build statements against the
schema, the portability of every template); ``tests/conversational/test_neo4j.py`` has one test
that compares answers with kuzu on a real server when ``RECSTACK_TEST_NEO4J_URI`` is set. See
"Neo4j" in docs/conversational.md.

Reads run in managed read transactions (``session.execute_read``, routed to a reader on a
cluster), so the server refuses a write that got past the validator. The build writes in
``UNWIND $rows … MERGE`` batches under uniqueness constraints on each label's key.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from recstack.conversational.graph import GraphStore, GraphUnavailable
from recstack.conversational.schema import EDGES, NODES, PRIMARY_KEYS
from recstack.errors import ConfigError, DataError, NotFoundError
from recstack.settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    from rich.progress import Progress

BATCH_ROWS = 2000  # rows per write transaction: 46 transactions for DISTANCE_TO's 90,650 edges
START_SERVER = ("start one (e.g. `docker run -p 7687:7687 -e NEO4J_AUTH=neo4j/<password> "
                "neo4j:5`) and set RECSTACK_CHAT__NEO4J_URI=bolt://localhost:7687, "
                "RECSTACK_CHAT__NEO4J_USER and RECSTACK_CHAT__NEO4J_PASSWORD; or unset "
                "RECSTACK_CHAT__GRAPH_BACKEND to use the embedded kuzu graph")

# Cypher that kuzu accepts and Neo4j does not (or means differently): pattern → what to write
# instead. Checked before Neo4j plans a query, and run over every template in the tests.
KUZU_ONLY: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), instead) for pattern, instead in (
        (r"\bCAST\s*\(", "CAST(x AS TYPE) is kuzu's: use toInteger/toFloat/toString"),
        (r"::\s*[A-Za-z]", "x::TYPE casts are not Cypher: use toInteger/toFloat/toString"),
        (r"\b(?:list|array|struct|map|union)_[a-z_]+\s*\(",
         "kuzu's list_/array_/struct_/map_/union_ functions: use Cypher list expressions, "
         "size(), IN, reduce()"),
        (r"\b(?:to_int\d*|to_u?int\d+|to_double|to_float|to_string|to_date|string_split|"
         r"regexp_[a-z_]+|date_part|current_date|current_timestamp|starts_with|ends_with|"
         r"array_extract|struct_extract)\s*\(",
         "a kuzu function: use the Cypher one (toInteger, toFloat, toString, date(), split, "
         "=~, STARTS WITH, ENDS WITH)"),
        (r"\blabel\s*\(", "label(n) is kuzu's: use labels(n)"),
        (r"\boffset\s*\(\s*id\s*\(", "kuzu's internal ids: use the schema's keys"),
        (r"\b(?:QUERY|CREATE|DROP)_(?:VECTOR|FTS)_INDEX\b",
         "kuzu's vector/full-text extensions: the recommender searches the e5 vectors in "
         "numpy on either store"),
        (r"\bPROJECT_GRAPH\b|\bpage_rank\b|\bweakly_connected_components\b",
         "kuzu's algo extension: not on Neo4j"),
        (r"\*\s*(?:ALL\s+)?W?SHORTEST\b", "kuzu's shortest-path pattern syntax: use "
                                         "shortestPath()"),
        (r"\bCALL\s+(?:show_tables|table_info|show_connection|db_version|current_setting)\b",
         "kuzu's catalogue procedures: use SHOW / db.labels() on Neo4j"),
        (r"\b(?:COPY|LOAD\s+FROM|INSTALL|ATTACH)\b", "kuzu's bulk/extension statements"),
    ))


def kuzu_only(cypher: str) -> list[str]:
    """What in ``cypher`` is kuzu-only, each with what Neo4j needs instead; empty when the
    query uses only Cypher both databases read the same way."""
    return [f"{match.group(0).strip()}: {instead}"
            for pattern, instead in KUZU_ONLY for match in [pattern.search(cypher)] if match]


def _native(value: Any) -> Any:
    """Driver values as kuzu's store returns them: neo4j.time.Date → datetime.date, lists and
    maps inside out."""
    if isinstance(value, list):
        return [_native(v) for v in value]
    if isinstance(value, dict):
        return {k: _native(v) for k, v in value.items()}
    to_native = getattr(value, "to_native", None)
    return to_native() if callable(to_native) else value


class Neo4jStore(GraphStore):
    """A Neo4j database behind the :class:`GraphStore` interface. The driver is thread-safe
    and pools connections; each call takes a session of its own."""

    def __init__(self, uri: str, *, user: str, password: str | None, database: str | None,
                 timeout_s: float = 10.0):
        try:
            import neo4j
        except ModuleNotFoundError:
            raise ConfigError("graph_backend is neo4j but the neo4j driver is not installed",
                              field="extra 'chat'", fix="pip install -e '.[chat]'") from None
        self._neo4j = neo4j
        self.uri, self.database = uri, database
        try:
            self._driver: Any = neo4j.GraphDatabase.driver(
                uri, auth=(user, password or ""), connection_timeout=timeout_s,
                max_transaction_retry_time=timeout_s)
        except (neo4j.exceptions.ConfigurationError, ValueError) as exc:
            raise ConfigError(f"not a Neo4j address: {uri!r} ({exc})",
                              field="RECSTACK_CHAT__NEO4J_URI",
                              fix="bolt://HOST:7687 or neo4j://HOST:7687") from None
        try:
            self._driver.verify_connectivity()
        except Exception as exc:
            self._driver.close()
            raise self._unavailable(exc) from None

    @property
    def where(self) -> str:
        return f"{self.uri} (database {self.database or 'default'})"

    def _unavailable(self, exc: Exception) -> Exception:
        """A driver error as the user error it is; other exceptions unchanged."""
        errors = self._neo4j.exceptions
        if isinstance(exc, errors.AuthError):
            return GraphUnavailable(f"Neo4j at {self.uri} refused the credentials",
                                    field="RECSTACK_CHAT__NEO4J_PASSWORD",
                                    fix="set RECSTACK_CHAT__NEO4J_USER and "
                                        "RECSTACK_CHAT__NEO4J_PASSWORD")
        code = str(getattr(exc, "code", "") or "")
        if "DatabaseNotFound" in code:
            return GraphUnavailable(f"Neo4j at {self.uri} has no database {self.database!r}",
                                    field="RECSTACK_CHAT__NEO4J_DATABASE",
                                    fix="create it (CREATE DATABASE …, Enterprise) or unset "
                                        "RECSTACK_CHAT__NEO4J_DATABASE for the default one")
        if isinstance(exc, errors.ServiceUnavailable | errors.SessionExpired
                      | errors.DatabaseUnavailable | errors.ConnectionAcquisitionTimeoutError):
            return GraphUnavailable(f"cannot reach Neo4j at {self.uri}: "
                                    f"{str(exc).splitlines()[0]}",
                                    field="RECSTACK_CHAT__NEO4J_URI",
                                    fix="is the server running? " + START_SERVER)
        if isinstance(exc, errors.Neo4jError):
            if "AccessMode" in code or "Forbidden" in code:
                return DataError("refused: the graph is read-only here (read transaction)",
                                 field="cypher", fix="ask a question; nothing can be written")
            return DataError(f"the database refuses the query: "
                             f"{getattr(exc, 'message', None) or exc}", field="cypher",
                             fix="use the labels and properties of docs/conversational.md")
        return exc

    def _run(self, cypher: str, params: dict[str, Any] | None, *, write: bool = False
             ) -> list[dict[str, Any]]:
        def work(tx: Any) -> list[dict[str, Any]]:
            result = tx.run(cypher, params or {})
            names = list(result.keys())
            return [{name: _native(record[name]) for name in names} for record in result]

        try:
            with self._driver.session(database=self.database) as session:
                if write:
                    rows: list[dict[str, Any]] = session.execute_write(work)
                else:
                    rows = session.execute_read(work)
                return rows
        except Exception as exc:
            raise self._unavailable(exc) from None

    def query(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._run(cypher, params)

    def explain(self, cypher: str, params: dict[str, Any] | None = None) -> None:
        problems = kuzu_only(cypher)
        if problems:
            raise DataError("not portable to Neo4j: " + "; ".join(problems), field="cypher",
                            fix="write Cypher both kuzu and Neo4j read (docs/conversational.md)")
        self._run(f"EXPLAIN {cypher}", params)

    def write(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One write transaction (the build's statements only)."""
        return self._run(cypher, params, write=True)

    def schema(self, cypher: str) -> None:
        """A schema statement, in an auto-commit transaction (Neo4j does not mix schema and
        data writes in one transaction)."""
        try:
            with self._driver.session(database=self.database) as session:
                session.run(cypher).consume()
        except Exception as exc:
            raise self._unavailable(exc) from None

    def fingerprint(self) -> str | None:
        """The stored build fingerprint; None when nothing was built (or a build failed)."""
        rows = self.query("MATCH (m:Meta {key: 'fingerprint'}) RETURN m.value AS value")
        return str(rows[0]["value"]) if rows else None

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None


def connect(settings: Settings) -> Neo4jStore:
    """The configured server (built or not); ConfigError/GraphUnavailable naming the setting."""
    from recstack.conversational.system import SPEC

    chat = SPEC.settings_of(settings)
    if not chat.neo4j_uri:
        raise ConfigError("graph_backend is neo4j but no server is set",
                          field="RECSTACK_CHAT__NEO4J_URI", fix=START_SERVER)
    password = chat.neo4j_password.get_secret_value() if chat.neo4j_password else None
    return Neo4jStore(chat.neo4j_uri, user=chat.neo4j_user, password=password,
                      database=chat.neo4j_database, timeout_s=chat.neo4j_timeout_s)


def open_neo4j(settings: Settings) -> Neo4jStore:
    """The built graph on Neo4j; a NotFoundError saying ``recstack chat build`` when the
    database holds no build."""
    store = connect(settings)
    try:
        built = store.fingerprint() is not None
    except BaseException:
        store.close()
        raise
    if not built:
        store.close()
        raise NotFoundError(f"no conversational graph in Neo4j at {store.where}",
                            field="graph", fix="run `recstack chat build` first")
    return store


# --- the build: the same tables as kuzu's COPY, as MERGE batches -------------------------------

def constraint_statements() -> list[str]:
    """One uniqueness constraint per node label on its key (kuzu's PRIMARY KEY)."""
    return [f"CREATE CONSTRAINT recstack_{label.lower()}_{key} IF NOT EXISTS "
            f"FOR (n:{label}) REQUIRE n.{key} IS UNIQUE" for label, key in PRIMARY_KEYS.items()]


def node_statement(label: str) -> str:
    """MERGE a batch of ``label`` nodes on the key, setting every other schema property."""
    key = PRIMARY_KEYS[label]
    sets = ", ".join(f"n.{p} = row.{p}" for p in NODES[label] if p != key)
    return f"UNWIND $rows AS row MERGE (n:{label} {{{key}: row.{key}}})" + (
        f" SET {sets}" if sets else "")


def edge_statement(label: str) -> str:
    """MERGE a batch of ``label`` edges between nodes found by key (``row.src``, ``row.dst``)."""
    source, target, props = EDGES[label]
    sets = ", ".join(f"r.{p} = row.{p}" for p in props)
    return (f"UNWIND $rows AS row MATCH (a:{source} {{{PRIMARY_KEYS[source]}: row.src}}) "
            f"MATCH (b:{target} {{{PRIMARY_KEYS[target]}: row.dst}}) "
            f"MERGE (a)-[r:{label}]->(b)" + (f" SET {sets}" if sets else ""))


def delete_statement(label: str) -> str:
    """Delete up to :data:`BATCH_ROWS` nodes of ``label`` with their edges; returns how many."""
    return (f"MATCH (n:{label}) WITH n LIMIT {BATCH_ROWS} DETACH DELETE n "
            "RETURN count(*) AS deleted")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table's rows as driver parameters: plain Python values, missing values as None (a
    NaN would be stored as a number, not as a missing property); edges' ``from``/``to`` as
    ``src``/``dst``."""
    import pandas as pd

    renamed = frame.rename(columns={"from": "src", "to": "dst"}).astype(object)
    return [{str(k): None if pd.isna(v) else v for k, v in row.items()}
            for row in renamed.to_dict("records")]


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH_ROWS):
        yield rows[start:start + BATCH_ROWS]


def build_neo4j(settings: Settings, *, force: bool = False, progress: Progress | None = None
                ) -> Any:
    """``recstack chat build`` onto Neo4j: nothing when the stored fingerprint matches; else
    delete the schema's nodes, ensure the constraints and MERGE every table in batches, the
    fingerprint last (a failed build is never trusted: the next one starts again)."""
    from recstack.conversational.build import (
        BuildReport,
        fingerprint,
        input_files,
        read_tables,
        review_files,
    )

    started = time.perf_counter()
    files = input_files(settings)
    reviews = review_files(settings)
    inputs = fingerprint(files + reviews)
    store = connect(settings)
    try:
        if not force and store.fingerprint() == inputs:
            return BuildReport(store.where, False, {}, time.perf_counter() - started, inputs)
        tables = read_tables(files[0], files[1], reviews)
        batches = sum(math.ceil(len(f) / BATCH_ROWS) for f in tables.values())
        task = (progress.add_task("chat build (neo4j)", total=batches + 2)
                if progress is not None else None)

        def advance(name: str) -> None:
            if progress is not None and task is not None:
                progress.update(task, advance=1, description=f"chat build (neo4j): {name}")

        for label in ["Meta", *(n for n in NODES if n != "Meta")]:
            while store.write(delete_statement(label))[0]["deleted"]:
                pass
        advance("cleared")
        for statement in constraint_statements():
            store.schema(statement)
        advance("constraints")
        for label, frame in tables.items():
            statement = node_statement(label) if label in NODES else edge_statement(label)
            for batch in _batches(records(frame)):
                store.write(statement, {"rows": batch})
                advance(label)
        store.write("MERGE (m:Meta {key: 'fingerprint'}) SET m.value = $v", {"v": inputs})
        counts = {label: len(frame) for label, frame in tables.items()}
        return BuildReport(store.where, True, counts, time.perf_counter() - started, inputs)
    finally:
        store.close()
