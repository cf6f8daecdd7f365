"""Conversational Jeju restaurant recommender: a graph of Shinhan Card merchants, districts,
categories and attractions (:mod:`.graph`, built by :func:`build_graph`), Korean questions
parsed into Cypher templates (:class:`QuestionParser`), a read-only validator
(:func:`validate_cypher`) and :func:`ask`, which runs the three.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recstack._lazy import lazy_exports

# ruff: noqa: F401 - these imports are the re-exports, for type checkers; ruff cannot read
# the __all__ that lazy_exports computes.
if TYPE_CHECKING:
    from recstack.conversational.ask import Answer, Asker, ask
    from recstack.conversational.build import BuildReport, build_graph
    from recstack.conversational.graph import GraphStore, GraphUnavailable, KuzuStore, open_graph
    from recstack.conversational.neo4j_store import Neo4jStore
    from recstack.conversational.parser import ParsedQuestion, QuestionParser
    from recstack.conversational.validator import validate_cypher

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "ask": ["Answer", "Asker", "ask"],
    "build": ["BuildReport", "build_graph"],
    "graph": ["GraphStore", "GraphUnavailable", "KuzuStore", "open_graph"],
    "neo4j_store": ["Neo4jStore"],
    "parser": ["ParsedQuestion", "QuestionParser"],
    "validator": ["validate_cypher"],
})
