"""The conversational recommender's plug into the spine (see :mod:`recstack.system`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from recstack.system import DemoStep, Resource, SystemSettings, SystemSpec


class ChatSettings(SystemSettings):
    """``RECSTACK_CHAT__*``: the Jeju restaurant graph and the questions asked of it."""

    graph_path: Path | None = Field(
        None, description="kuzu graph file; default <home>/chat/graph.kuzu")
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
