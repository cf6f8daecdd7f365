"""The feature catalog: a small SQLite database of entities and every version of every view.

Each ``apply`` is one transaction, so a failed apply leaves nothing half-written. Old versions
stay readable (``view@version:feature``); the newest applied version of a view is its active
one. (Not to be confused with :mod:`recstack.registry`, the MLflow model registry.)
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from recstack.errors import NotFoundError
from recstack.features.definitions import Definitions, Entity, FeatureView

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (name TEXT PRIMARY KEY, definition TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS views (
    name TEXT NOT NULL, version TEXT NOT NULL, definition TEXT NOT NULL,
    join_keys TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS active_views (name TEXT PRIMARY KEY, version TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS materializations (
    name TEXT NOT NULL, version TEXT NOT NULL, end_us INTEGER NOT NULL,
    PRIMARY KEY (name, version));
"""


@dataclass(frozen=True)
class RegisteredView:
    """One stored version of a view, with the join keys its entities had when applied."""

    view: FeatureView
    version: str
    join_keys: list[str]
    created_at: float
    active: bool

    @property
    def name(self) -> str:
        return self.view.name

    @property
    def table(self) -> str:
        """The online-store table of this version: ``name@version``."""
        return f"{self.view.name}@{self.version}"


@dataclass(frozen=True)
class ViewChange:
    """How a view in a definitions file differs from the catalog."""

    name: str
    status: str  # added | changed | unchanged | only_in_catalog
    old_version: str | None = None
    new_version: str | None = None
    changed_fields: list[str] = field(default_factory=list)


class FeatureCatalog:
    """Entities and view versions in ``path`` (SQLite)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path)
        try:
            conn.executescript(_SCHEMA)
            yield conn
        finally:
            conn.close()

    def entities(self) -> dict[str, Entity]:
        with self._connect() as conn:
            rows = conn.execute("SELECT definition FROM entities ORDER BY name").fetchall()
        entities = [Entity.model_validate_json(r[0]) for r in rows]
        return {e.name: e for e in entities}

    def views(self, name: str | None = None, *, all_versions: bool = False
              ) -> list[RegisteredView]:
        """Active views (or every version), by name then creation time."""
        sql = ("SELECT v.definition, v.version, v.join_keys, v.created_at, a.version IS NOT NULL "
               "FROM views v LEFT JOIN active_views a ON a.name = v.name AND a.version = v.version")
        where = [] if all_versions else ["a.version IS NOT NULL"]
        args: list[str] = []
        if name is not None:
            where.append("v.name = ?")
            args.append(name)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY v.name, v.created_at", args).fetchall()
        return [RegisteredView(FeatureView.model_validate_json(d), version, json.loads(keys),
                               created, bool(active))
                for d, version, keys, created, active in rows]

    def get(self, name: str, version: str | None = None) -> RegisteredView:
        """The active version of ``name``, or the given one."""
        versions = self.views(name, all_versions=True)
        if not versions:
            known = sorted({v.name for v in self.views()})
            raise NotFoundError(f"no feature view {name!r}", field="features",
                                fix=f"apply its definition first; known views: {known}")
        for registered in versions:
            if (version is None and registered.active) or registered.version == version:
                return registered
        raise NotFoundError(f"view {name!r} has no version {version!r}", field="features",
                            fix=f"use one of {[v.version for v in versions]}")

    def diff(self, definitions: Definitions) -> list[ViewChange]:
        """Per view: added, changed (which fields), unchanged; and views only in the catalog."""
        entities = definitions.entity_map()
        active = {v.name: v for v in self.views()}
        changes = []
        for view in definitions.views:
            new_version = view.version(entities)
            old = active.get(view.name)
            if old is None:
                changes.append(ViewChange(view.name, "added", None, new_version))
            elif old.version == new_version:
                changes.append(ViewChange(view.name, "unchanged", old.version, new_version))
            else:
                before = old.view.versioned_content({}) | {"join_keys": old.join_keys}
                after = view.versioned_content(entities)
                fields = sorted(k for k in after.keys() | before.keys()
                                if before.get(k) != after.get(k))
                changes.append(ViewChange(view.name, "changed", old.version, new_version, fields))
        in_file = {v.name for v in definitions.views}
        changes += [ViewChange(name, "only_in_catalog", old.version)
                    for name, old in sorted(active.items()) if name not in in_file]
        return changes

    def write(self, definitions: Definitions) -> list[ViewChange]:
        """Store entities and new view versions in one transaction; unchanged ones are skipped."""
        changes = self.diff(definitions)
        entities = definitions.entity_map()
        by_name = {v.name: v for v in definitions.views}
        now = time.time()
        with self._connect() as conn, conn:  # the inner ``conn`` commits or rolls back
            for entity in definitions.entities:
                conn.execute("INSERT OR REPLACE INTO entities VALUES (?, ?)",
                             (entity.name, entity.model_dump_json()))
            for change in changes:
                if change.status not in {"added", "changed"}:
                    continue
                view = by_name[change.name]
                keys = [k for e in view.entities for k in entities[e].join_keys]
                conn.execute("INSERT OR IGNORE INTO views VALUES (?, ?, ?, ?, ?)",
                             (view.name, change.new_version, view.model_dump_json(),
                              json.dumps(keys), now))
                conn.execute("INSERT OR REPLACE INTO active_views VALUES (?, ?)",
                             (view.name, change.new_version))
        return changes

    def materialized_until(self, registered: RegisteredView) -> int | None:
        """End (epoch microseconds) of the last materialisation of this version, if any."""
        with self._connect() as conn:
            row = conn.execute("SELECT end_us FROM materializations WHERE name = ? AND version = ?",
                               (registered.name, registered.version)).fetchone()
        return None if row is None else int(row[0])

    def record_materialization(self, registered: RegisteredView, end_us: int) -> None:
        with self._connect() as conn, conn:
            conn.execute("INSERT OR REPLACE INTO materializations VALUES (?, ?, ?)",
                         (registered.name, registered.version, end_us))
