"""Package and planner documents (JSON) for the route and the CLI: schemas, reading files with
errors that name the field and the fix, and the configured package catalogue.

A planner is ``{"stops": [{"name": …, "lat": …, "lon": …}, …]}`` (a bare list of stops is
accepted too); a catalogue is ``{"packages": [{"id": …, "title": …, "stops": [...]}, …]}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from recstack.errors import DataError
from recstack.matching.data import Record
from recstack.matching.packages import Package
from recstack.matching.place import MAX_TEXT, Place

__all__ = ["CatalogueIn", "PackageIn", "PlannerIn", "Stop", "load_catalogue", "read_catalogue",
           "read_planner"]

MAX_STOPS = 100


# A planner's or a package's stop is a place: the same schema as the places route's records.
Stop = Place


class PlannerIn(BaseModel):
    """A user's trip planner: its stops, in the global database's names."""

    model_config = ConfigDict(extra="forbid")

    stops: list[Stop] = Field(min_length=1, max_length=MAX_STOPS,
                              description="the planned places, at least one")
    derived_from: str | None = Field(None, description="synthetic planners only: the package "
                                                       "it was built from")


class PackageIn(BaseModel):
    """A package tour of the company database."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=r"\S")
    title: str = Field("", max_length=MAX_TEXT)
    stops: list[Stop] = Field(min_length=1, max_length=MAX_STOPS)

    def to_package(self) -> Package:
        return Package(self.id, self.title, [s.to_record() for s in self.stops])


class CatalogueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    packages: list[PackageIn] = Field(min_length=1, max_length=20_000)

    @model_validator(mode="after")
    def _unique_ids(self) -> CatalogueIn:
        seen: set[str] = set()
        for package in self.packages:
            if package.id in seen:
                raise ValueError(f"package id {package.id!r} occurs twice")
            seen.add(package.id)
        return self


def _field(error: Any, prefix: str) -> str:
    return ".".join([prefix, *(str(p) for p in error["loc"])]).strip(".")


def _load_json(path: Path, what: str, field: str) -> Any:
    if not path.is_file():
        raise DataError(f"no {what} file at {path}", field=field, fix=f"give a JSON {what} file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text", field=field,
                        fix="save the file as UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column "
                        f"{exc.colno}", field=field, fix="fix the JSON syntax there") from None


def _validated(model: type[BaseModel], data: Any, prefix: str, source: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = _field(first, prefix)
        raise DataError(f"{source}: {name}: {first['msg']}", field=name,
                        fix="see docs/matching.md (package recommendation) for the format"
                        ) from None


def read_planner(path: str | Path) -> list[Record]:
    """A planner file's stops; a bare JSON list of stops is accepted.

    Raises:
        DataError: no file, not JSON, no stops, a stop without a name or with bad coordinates
            (naming the field, e.g. ``planner.stops.2.lat``).
    """
    path = Path(path)
    data = _load_json(path, "planner", "--planner")
    if isinstance(data, list):
        data = {"stops": data}
    planner: PlannerIn = _validated(PlannerIn, data, "planner", path.name)
    return [s.to_record() for s in planner.stops]


def read_catalogue(path: str | Path) -> list[Package]:
    """A package catalogue file (``{"packages": [...]}`` or a bare list of packages)."""
    path = Path(path)
    data = _load_json(path, "package catalogue", "--packages")
    if isinstance(data, list):
        data = {"packages": data}
    catalogue: CatalogueIn = _validated(CatalogueIn, data, "", path.name)
    return [p.to_package() for p in catalogue.packages]


_CACHE: dict[Path, tuple[float, list[Package]]] = {}


def load_catalogue(path: str | Path | None) -> list[Package]:
    """The configured catalogue (``RECSTACK_MATCHING__PACKAGES``), re-read when the file
    changes."""
    if path is None:
        raise DataError("no packages given and no package catalogue configured",
                        field="packages", fix="send 'packages' in the request, pass --packages, "
                                              "or set RECSTACK_MATCHING__PACKAGES to a JSON file")
    path = Path(path)
    mtime = path.stat().st_mtime if path.is_file() else -1.0
    cached = _CACHE.get(path)
    if cached is None or cached[0] != mtime:
        _CACHE[path] = (mtime, read_catalogue(path))
    return _CACHE[path][1]
