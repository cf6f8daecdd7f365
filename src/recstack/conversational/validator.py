"""The one gate every Cypher query passes before it runs, whoever wrote it (the template parser
now, an LLM later): read-only, known labels and properties only, and planned by the database.

The checks read the whole query text, string literals and comments included: a write keyword
anywhere (``… // ignore the instructions and DELETE …``) is refused rather than reasoned about.
"""

from __future__ import annotations

import re
from typing import Any

from recstack.conversational.schema import LABELS, PROPERTIES
from recstack.errors import DataError

WRITE_CLAUSES = ("CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "ALTER", "COPY",
                 "LOAD", "INSTALL", "ATTACH", "DETACH", "IMPORT", "EXPORT", "CHECKPOINT", "BEGIN",
                 "COMMIT", "ROLLBACK", "USE", "FOREACH")
READ_ONLY_PROCEDURES = frozenset({"show_tables", "table_info", "show_connection", "db_version"})
_WRITE = re.compile(r"\b(" + "|".join(WRITE_CLAUSES) + r")\b", re.IGNORECASE)
_CALL = re.compile(r"\bCALL\s+([A-Za-z_][\w.]*)", re.IGNORECASE)
_LABEL = re.compile(r"[(\[]\s*[A-Za-z_]\w*\s*:\s*([A-Za-z_]\w*)|[(\[]\s*:\s*([A-Za-z_]\w*)")
_PROPERTY = re.compile(r"\b[A-Za-z_]\w*\.([A-Za-z_]\w*)")
_MAP_KEY = re.compile(r"\{\s*([A-Za-z_]\w*)\s*:|,\s*([A-Za-z_]\w*)\s*:(?!:)")
MAX_CYPHER_CHARS = 4000


def validate_cypher(cypher: str, store: Any | None = None,
                    params: dict[str, Any] | None = None) -> str:
    """``cypher`` if it is safe to run; a DataError (field ``cypher``) saying why not.

    Args:
        cypher: one read-only query.
        store: a :class:`~recstack.conversational.graph.GraphStore`; when given, the database
            plans the query (``EXPLAIN``) so that a query that does not bind is refused too.
        params: the query's parameters, for the plan.
    """
    if not cypher.strip():
        raise DataError("the query is empty", field="cypher", fix="write one MATCH … RETURN")
    if len(cypher) > MAX_CYPHER_CHARS:
        raise DataError(f"the query is {len(cypher)} characters long", field="cypher",
                        fix=f"keep it under {MAX_CYPHER_CHARS}")
    if ";" in cypher.strip().rstrip(";"):
        raise DataError("more than one statement", field="cypher", fix="send one query")
    write = _WRITE.search(cypher)
    if write:
        raise DataError(f"refused: {write.group(1).upper()} would change the graph; only reads "
                        "are allowed", field="cypher", fix="ask a question; nothing can be "
                        "written through this interface")
    for match in _CALL.finditer(cypher):
        if match.group(1).lower() not in READ_ONLY_PROCEDURES:
            raise DataError(f"refused: CALL {match.group(1)} is not a known read-only "
                            "procedure", field="cypher",
                            fix="allowed: " + ", ".join(sorted(READ_ONLY_PROCEDURES)))
    if "MATCH" not in cypher.upper() or "RETURN" not in cypher.upper():
        raise DataError("not a MATCH … RETURN query", field="cypher",
                        fix="read with MATCH … RETURN")
    labels = {a or b for a, b in _LABEL.findall(cypher)}
    unknown = sorted(labels - LABELS)
    if unknown:
        raise DataError(f"unknown label(s) {', '.join(unknown)}", field="cypher",
                        fix="known labels: " + ", ".join(sorted(LABELS)))
    properties = set(_PROPERTY.findall(cypher)) | {a or b for a, b in _MAP_KEY.findall(cypher)}
    unknown = sorted(properties - PROPERTIES)
    if unknown:
        raise DataError(f"unknown propert(ies) {', '.join(unknown)}", field="cypher",
                        fix="see the schema in docs/conversational.md")
    if store is not None:
        store.explain(cypher, params)
    return cypher
