"""Feature definitions: entities, sources and feature views, and the hash that versions them.

A definitions file is YAML or JSON (``entities:`` and ``views:``) or a Python module with a
``DEFINITIONS`` object. A view's version is a short hash of everything that decides its values:
source, keys, timestamps, TTL, typed features and the transformation (for a Python
transformation, the function's source code). Descriptions do not change the version.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from recstack.errors import ConfigError, DataError, NotFoundError

FeatureType = Literal["int64", "float64", "string", "bool"]
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Entity(_Model):
    """What features describe (a patient, an eye, a product), identified by its join keys."""

    name: str = Field(..., pattern=NAME_PATTERN)
    join_keys: list[str] = Field(..., min_length=1, description="columns that identify one entity")
    description: str = ""


class Source(_Model):
    """Where a view's rows come from.

    ``kind``: ``parquet`` or ``csv`` (``path``), ``duckdb`` (``path`` of a database and
    ``table``), ``sql`` (a DuckDB ``query``), or ``frame`` (``name`` of a frame stored with
    ``FeatureStore.write_source``).
    """

    kind: Literal["parquet", "csv", "duckdb", "sql", "frame"]
    path: str | None = None
    table: str | None = None
    query: str | None = None
    name: str | None = None

    def check(self, view: str) -> None:
        """Raise ``ConfigError`` when a field this kind needs is missing."""
        needs = {"parquet": ["path"], "csv": ["path"], "duckdb": ["path", "table"],
                 "sql": ["query"], "frame": ["name"]}[self.kind]
        for field in needs:
            if not getattr(self, field):
                raise ConfigError(f"a {self.kind} source needs '{field}'",
                                  field=f"views.{view}.source.{field}",
                                  fix=f"set source.{field} of view {view!r}")


class Feature(_Model):
    """One typed feature column of a view."""

    name: str = Field(..., pattern=NAME_PATTERN)
    dtype: FeatureType = "float64"
    description: str = ""


class FeatureView(_Model):
    """Features of one or more entities, read from a source with event timestamps.

    ``transformation_sql`` is a DuckDB ``SELECT`` over the relation ``source``;
    ``transformation_python`` names ``module:function`` taking and returning a pandas frame.
    ``ttl_seconds``: a value older than this at the time asked about counts as missing.
    """

    name: str = Field(..., pattern=NAME_PATTERN)
    entities: list[str] = Field(..., min_length=1)
    source: Source | None = None
    timestamp_field: str = "event_timestamp"
    created_timestamp_field: str | None = None
    ttl_seconds: int | None = Field(None, gt=0)
    features: list[Feature] = Field(..., min_length=1)
    transformation_sql: str | None = None
    transformation_python: str | None = None
    description: str = ""

    @field_validator("transformation_python")
    @classmethod
    def _module_colon_function(cls, value: str | None) -> str | None:
        if value is not None and value.count(":") != 1:
            raise ValueError("write 'package.module:function'")
        return value

    def feature(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise NotFoundError(f"view {self.name!r} has no feature {name!r}",
                            field="features",
                            fix=f"use one of {[f.name for f in self.features]}")

    def versioned_content(self, entities: dict[str, Entity]) -> dict[str, Any]:
        """What the version hash covers: everything that decides the values."""
        content = self.model_dump(exclude={"description"})
        for feature in content["features"]:
            feature.pop("description")
        content["join_keys"] = [k for e in self.entities if e in entities
                                for k in entities[e].join_keys]
        if self.transformation_python:
            content["python_source"] = inspect.getsource(load_python_transformation(self))
        return content

    def version(self, entities: dict[str, Entity]) -> str:
        """12 hex digits of the SHA-256 of the canonical JSON of ``versioned_content``."""
        blob = json.dumps(self.versioned_content(entities), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


class Definitions(_Model):
    """A set of entities and the views over them, as one ``apply`` takes them."""

    entities: list[Entity] = Field(default_factory=list)
    views: list[FeatureView] = Field(default_factory=list)

    def entity_map(self) -> dict[str, Entity]:
        return {e.name: e for e in self.entities}

    def validate_names(self) -> None:
        """Duplicate names, unknown entities and views without a source are errors."""
        for kind, names in (("entity", [e.name for e in self.entities]),
                            ("view", [v.name for v in self.views])):
            dupes = [n for n, c in Counter(names).items() if c > 1]
            if dupes:
                raise ConfigError(f"{kind} {dupes[0]!r} is defined more than once",
                                  field=f"{kind}s", fix=f"give each {kind} a unique name")
        entities = self.entity_map()
        for view in self.views:
            if view.source is None:
                raise ConfigError(f"view {view.name!r} has no source", field=f"views.{view.name}",
                                  fix="add a source (parquet, csv, duckdb, sql or frame)")
            view.source.check(view.name)
            for name in view.entities:
                if name not in entities:
                    raise ConfigError(f"view {view.name!r} uses unknown entity {name!r}",
                                      field=f"views.{view.name}.entities",
                                      fix=f"define it under entities; known: {sorted(entities)}")
            features = [f.name for f in view.features]
            dupes = [n for n, c in Counter(features).items() if c > 1]
            if dupes:
                raise ConfigError(f"feature {dupes[0]!r} appears twice in view {view.name!r}",
                                  field=f"views.{view.name}.features",
                                  fix="give each feature of a view a unique name")
            keys = [k for name in view.entities for k in entities[name].join_keys]
            reserved = set(keys) & (set(features) | {view.timestamp_field})
            if reserved:
                raise ConfigError(f"{sorted(reserved)} in view {view.name!r} is both a join key "
                                  "and a feature or timestamp", field=f"views.{view.name}",
                                  fix="rename the feature")


def load_python_transformation(view: FeatureView) -> Callable[..., Any]:
    """Import the ``module:function`` of a view's Python transformation."""
    assert view.transformation_python is not None
    module_name, _, function_name = view.transformation_python.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import {view.transformation_python!r}: {exc}",
                          field=f"views.{view.name}.transformation_python",
                          fix="name an importable 'package.module:function'") from exc
    if not callable(function):
        raise ConfigError(f"{view.transformation_python!r} is not a function",
                          field=f"views.{view.name}.transformation_python",
                          fix="name a function that takes and returns a pandas DataFrame")
    return function


def load_definitions(path: str | Path) -> Definitions:
    """Read a YAML, JSON or Python definitions file.

    Relative ``path`` fields of file sources are taken relative to the definitions file.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"definitions file {path} not found", field="DEFINITIONS_FILE",
                            fix="give the path of a .yaml, .json or .py definitions file")
    if path.suffix == ".py":
        definitions = _load_python(path)
    elif path.suffix in {".yaml", ".yml", ".json"}:
        try:
            raw = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
        except yaml.YAMLError as exc:
            raise DataError(f"{path} is not valid YAML/JSON: {exc}", field="DEFINITIONS_FILE",
                            fix="fix the syntax") from exc
        definitions = parse_definitions(raw or {}, str(path))
    else:
        raise ConfigError(f"unsupported definitions file {path.name}", field="DEFINITIONS_FILE",
                          fix="use .yaml, .yml, .json or .py")
    return _resolve_paths(definitions, path.parent)


def parse_definitions(raw: Any, origin: str = "definitions") -> Definitions:
    """Validate a plain dict into ``Definitions``; errors name the first bad field."""
    try:
        return Definitions.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{origin}: {first['msg']}", field=loc or "definitions",
                          fix="see docs/features.md for the definitions format") from exc


def _load_python(path: Path) -> Definitions:
    spec = importlib.util.spec_from_file_location(f"_recstack_defs_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    definitions = getattr(module, "DEFINITIONS", None)
    if definitions is None:
        raise ConfigError(f"{path} defines no DEFINITIONS", field="DEFINITIONS",
                          fix="assign a recstack.features.Definitions to DEFINITIONS")
    if isinstance(definitions, Definitions):
        return definitions
    return parse_definitions(definitions, str(path))


def _resolve_paths(definitions: Definitions, base: Path) -> Definitions:
    views = []
    for view in definitions.views:
        source = view.source
        if source is not None and source.path and source.kind in {"parquet", "csv", "duckdb"}:
            resolved = Path(source.path).expanduser()
            if not resolved.is_absolute():
                resolved = (base / resolved).resolve()
            view = view.model_copy(update={"source": source.model_copy(
                update={"path": str(resolved)})})
        views.append(view)
    return definitions.model_copy(update={"views": views})
