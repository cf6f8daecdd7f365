"""The one request schema of a place: what ``POST /v1/places/match`` compares and what a planner
or package stop is (``POST /v1/packages/recommend``, the package files of the CLI).

A place has a name and, when known, coordinates: ``lat`` and ``lon`` together or not at all
(``null`` counts as not given). The rule is in the JSON schema too (an ``anyOf`` of "both
numbers" and "neither"), so the OpenAPI document says what the handler checks and a client
generated from it refuses a lone coordinate before sending it.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recstack.matching.data import Record

__all__ = ["MAX_TEXT", "Place", "PlaceRecord"]

MAX_TEXT = 512

# "Both coordinates or neither", as JSON Schema: either both are numbers (the bounds are the
# properties' own), or neither is anything but null (absent properties pass `properties`).
_BOTH_OR_NEITHER: dict[str, Any] = {"anyOf": [
    {"required": ["lat", "lon"],
     "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
    {"properties": {"lat": {"type": "null"}, "lon": {"type": "null"}}},
]}


class Place(BaseModel):
    """One place: a name, and coordinates when known (both or neither)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_BOTH_OR_NEITHER)

    name: str = Field(min_length=1, max_length=MAX_TEXT, pattern=r"\S",
                      description="the place's name (or title); required")
    # strict: a JSON true or "40.4" is not a latitude (lax floats would take both).
    lat: float | None = Field(None, ge=-90, le=90, strict=True,
                              description="latitude in degrees; give lon with it")
    lon: float | None = Field(None, ge=-180, le=180, strict=True,
                              description="longitude in degrees; give lat with it")

    @model_validator(mode="after")
    def _both_coordinates(self) -> Self:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both 'lat' and 'lon', or neither")
        return self

    def to_record(self) -> Record:
        """The matching record: the name with its whitespace runs collapsed."""
        return Record(" ".join(self.name.split()), self.lat, self.lon)


class PlaceRecord(Place):
    """A place as a record to match: :class:`Place` plus whatever else is known."""

    address: str = Field("", max_length=MAX_TEXT)
    postal_code: str = Field("", max_length=32)
    attributes: dict[str, Annotated[str, Field(max_length=MAX_TEXT)]] = Field(
        default_factory=dict, max_length=32, description="any other attribute: name → value")

    def to_record(self) -> Record:
        """The matching record, attribute names lower-cased and empty values dropped."""
        return Record(" ".join(self.name.split()), self.lat, self.lon, self.address.strip(),
                      self.postal_code.strip(),
                      {k.lower(): v for k, v in self.attributes.items() if v.strip()})
