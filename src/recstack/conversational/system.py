"""The conversational recommender's plug into the spine (see :mod:`recstack.system`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from recstack.system import DemoStep, Resource, SystemSettings, SystemSpec


class ChatSettings(SystemSettings):
    """``RECSTACK_CHAT__*``: the Jeju restaurant graph and the questions asked of it."""

    graph_backend: Literal["kuzu", "neo4j"] = Field(
        "kuzu", description="where the graph lives: an embedded kuzu file (default) or a Neo4j "
                            "server reached through the official driver (RECSTACK_CHAT__NEO4J_*)")
    graph_path: Path | None = Field(
        None, description="kuzu graph file; default <home>/chat/graph.kuzu")
    neo4j_uri: str | None = Field(
        None, description="Neo4j server when graph_backend is neo4j, e.g. bolt://localhost:7687 "
                          "or neo4j://host:7687 (a cluster: reads are routed to readers)")
    neo4j_user: str = Field("neo4j", description="Neo4j user")
    neo4j_password: SecretStr | None = Field(None, description="Neo4j password")
    neo4j_database: str | None = Field(
        None, description="Neo4j database; default the server's default database. Use one "
                          "the graph has to itself: a rebuild deletes every node of the "
                          "schema's labels (Merchant, District, Category, Attraction, Meta)")
    neo4j_timeout_s: float = Field(10.0, gt=0, description="connection timeout to Neo4j")
    threads_path: Path | None = Field(
        None, description="SQLite checkpoint file of the conversations (one thread each); "
                          "default <home>/chat/threads.sqlite")
    max_question_chars: int = Field(
        300, ge=10, description="longer questions are refused (no Jeju question needs more)")


SPEC = SystemSpec(
    name="chat",
    summary="Conversational Jeju restaurant recommender: Korean questions answered from a graph.",
    settings=ChatSettings,
    router="recstack.conversational.router:router",
    cli="recstack.conversational.cli:app",
    demo=DemoStep(title="Jeju restaurant questions over a graph", run="recstack.conversational."
                                                                      "demo:run", order=30),
    resources=(Resource(name="graph",
                        factory="recstack.conversational.graph:open_lazy_graph"),),
)
