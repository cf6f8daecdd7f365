"""The graph store: a thin interface over a Cypher database — embedded kuzu by default, a Neo4j
server when ``RECSTACK_CHAT__GRAPH_BACKEND=neo4j`` (:mod:`.neo4j_store`).

:class:`GraphStore` is what the rest of the system uses — ``query`` and ``explain`` with the same
Cypher on either database.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from recstack.errors import ConfigError, DataError, NotFoundError, missing_extra
from recstack.settings import Settings

GRAPH_FOLDER = "chat"
GRAPH_FILE = "graph.kuzu"
THREADS_FILE = "threads.sqlite"


class GraphUnavailable(ConfigError):
    """The configured graph server cannot be reached: a setting to fix or a server to start,
    answered 503 by the service (it may come back) rather than 422."""

    status_code = 503


class GraphStore(ABC):
    """A read-mostly Cypher graph."""

    @abstractmethod
    def query(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run ``cypher`` with ``params``; one dict per row, keys are the RETURN names, rows in
        the order the query returns them."""

    @abstractmethod
    def explain(self, cypher: str, params: dict[str, Any] | None = None) -> None:
        """Plan ``cypher`` without running it; a DataError (field ``cypher``) naming the
        database's complaint when it does not bind or parse."""

    @abstractmethod
    def close(self) -> None:
        """Release the database; closing twice is harmless."""


def graph_path(settings: Settings) -> Path:
    """Where the graph lives: ``RECSTACK_CHAT__GRAPH_PATH``, else ``<home>/chat/graph.kuzu``."""
    from recstack.conversational.system import SPEC

    configured = SPEC.settings_of(settings).graph_path
    return Path(configured) if configured else settings.home / GRAPH_FOLDER / GRAPH_FILE


def threads_path(settings: Settings) -> Path:
    """The conversations' checkpoint file: ``RECSTACK_CHAT__THREADS_PATH``, else
    ``<home>/chat/threads.sqlite``."""
    from recstack.conversational.system import SPEC

    configured = SPEC.settings_of(settings).threads_path
    return Path(configured) if configured else settings.home / GRAPH_FOLDER / THREADS_FILE


class KuzuStore(GraphStore):
    """A kuzu database file. One connection, used under a lock: kuzu connections are not meant
    to be shared between threads running queries at once (the service's thread pool would)."""

    def __init__(self, path: Path, *, read_only: bool = True):
        try:
            import kuzu
        except ModuleNotFoundError as exc:
            raise (missing_extra(exc) or exc) from None
        self.path = path
        self._db: Any = kuzu.Database(str(path), read_only=read_only)
        self._conn: Any = kuzu.Connection(self._db)
        self._lock = threading.Lock()

    def execute(self, cypher: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        """Rows as lists (the build's statements and the store's own queries)."""
        with self._lock:
            result = self._conn.execute(cypher, params or {})
            return list(result.get_all())

    def copy_frame(self, table: str, frame: Any) -> None:
        """Bulk-load a pandas frame whose columns are the table's, in order (edges: from, to,
        then the edge's properties)."""
        with self._lock:
            self._conn.execute(f"COPY {table} FROM $frame", {"frame": frame})

    def query(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            result = self._conn.execute(cypher, params or {})
            names = result.get_column_names()
            return [dict(zip(names, row, strict=True)) for row in result.get_all()]

    def explain(self, cypher: str, params: dict[str, Any] | None = None) -> None:
        try:
            with self._lock:
                self._conn.execute(f"EXPLAIN {cypher}", params or {})
        except RuntimeError as exc:
            raise DataError(f"the database refuses the query: {exc}", field="cypher",
                            fix="use the labels and properties of docs/conversational.md") from None

    def close(self) -> None:
        if self._db is not None:
            self._conn.close()
            self._db.close()
            self._db = None


def graph_backend(settings: Settings) -> str:
    """``kuzu`` or ``neo4j`` (``RECSTACK_CHAT__GRAPH_BACKEND``)."""
    from recstack.conversational.system import SPEC

    return str(SPEC.settings_of(settings).graph_backend)


def open_graph(settings: Settings) -> GraphStore:
    """The built graph, read-only; a NotFoundError saying ``recstack chat build`` when absent.
    On Neo4j, a :class:`GraphUnavailable` naming the setting when the server cannot be
    reached."""
    if graph_backend(settings) == "neo4j":
        from recstack.conversational.neo4j_store import open_neo4j

        return open_neo4j(settings)
    path = graph_path(settings)
    if not path.exists():
        raise NotFoundError(f"no conversational graph at {path}", field="graph",
                            fix="run `recstack chat build` first")
    try:
        return KuzuStore(path, read_only=True)
    except RuntimeError as exc:
        raise ConfigError(f"cannot open the graph at {path}: {exc}", field="graph",
                          fix="rebuild it with `recstack chat build --force`") from None


class LazyGraph:
    """The service's handle: opens the graph on first use, so that a service without a built
    graph starts (and answers /v1/chat with a 404 saying how to build one)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._store: GraphStore | None = None
        self._asker: Any = None
        self._lock = threading.Lock()

    def get(self) -> GraphStore:
        with self._lock:
            if self._store is None:
                self._store = open_graph(self.settings)
            return self._store

    def asker(self) -> Any:
        """One :class:`~recstack.conversational.ask.Asker` over the graph (its parser reads the
        districts and categories once)."""
        from recstack.conversational.ask import Asker
        from recstack.conversational.system import SPEC

        store = self.get()
        with self._lock:
            if self._asker is None:
                limit = SPEC.settings_of(self.settings).max_question_chars
                from recstack.conversational.recommend import open_recommender
                from recstack.llm import open_chat_client

                self._asker = Asker(store, max_chars=limit,
                                    threads_path=threads_path(self.settings),
                                    recommender=lambda: open_recommender(self.settings, store),
                                    llm=open_chat_client(self.settings))
            return self._asker

    def close(self) -> None:
        with self._lock:
            if self._asker is not None:
                self._asker.close()
            if self._store is not None:
                self._store.close()
                self._store = None
                self._asker = None


def open_lazy_graph(settings: Settings) -> LazyGraph:
    """The service resource factory (see the system's spec)."""
    return LazyGraph(settings)
