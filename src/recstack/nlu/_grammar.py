"""The template grammar's files: templates and hand-written fillers (package data under
``grammar/``) and the place names read from the shared gazetteer and the Jeju attractions.

Place fillers are grouped by the place they name (``도쿄|동경`` is one city; ``하롱베이`` and
``하롱베이 크루즈`` share a name), so that a held-out split never sees another spelling of a
training place.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from recstack.errors import DataError
from recstack.nlu.schema import ENTITY_TYPES, INTENTS

GRAMMAR_DIR = Path(__file__).parent / "grammar"
PLACE_TYPES = ("COUNTRY", "CITY", "POI")
SLOT = re.compile(r"\{([A-Z]+)((?:/[a-z]+)?)((?:#\d+)?)\}")
ALTERNATIVES = re.compile(r"\[([^\[\]]+)\]")
# Gazetteer cities: the most populous ones, a few per country so that 120 Chinese cities do
# not crowd out travel destinations.
N_CITIES = 320
CITIES_PER_COUNTRY = 6
N_JEJU_POIS = 120
_JEJU_NAME = re.compile(r"[가-힣0-9 ]{3,12}")
_NOT_ATTRACTION = re.compile(r"(병원|의원|약국|학원|스쿨|사무소)$")


@dataclass(frozen=True)
class Template:
    """One question template: ``id`` is ``<intent>-<position>``; ``text`` holds slots."""

    id: str
    intent: str
    text: str

    @property
    def slots(self) -> list[str]:
        """Slot keys in order of appearance (``CITY``, ``POI/hotel``, ``CITY#2``)."""
        return ["".join(m.groups()) for m in SLOT.finditer(self.text)]


@dataclass(frozen=True)
class Grammar:
    """Templates, fillers by slot list (``CITY``, ``POI/hotel`` …) and each gazetteer city's
    country, used to pair ``{COUNTRY} {CITY}`` sensibly."""

    templates: tuple[Template, ...]
    fillers: Mapping[str, tuple[str, ...]]
    country_of: Mapping[str, str] = field(default_factory=dict)
    synonyms: tuple[frozenset[str], ...] = ()

    def place_names(self) -> set[str]:
        """Every country, city and POI name: the ``known`` set of
        :func:`recstack.text.strip_particle` and a kiwipiepy user dictionary. Take it from the
        *training* grammar for anything evaluated on held-out places."""
        return {v for key, values in self.fillers.items()
                if key.split("/")[0] in PLACE_TYPES for v in values}

    def restrict(self, template_ids: Iterable[str], places: Iterable[str]) -> Grammar:
        """The grammar with only these templates and, for place lists, these names."""
        keep_t, keep_p = set(template_ids), set(places)
        fillers = {key: (tuple(v for v in values if v in keep_p)
                         if key.split("/")[0] in PLACE_TYPES else values)
                   for key, values in self.fillers.items()}
        return Grammar(tuple(t for t in self.templates if t.id in keep_t), fillers,
                       self.country_of, self.synonyms)


def load_templates(path: Path | None = None) -> tuple[Template, ...]:
    """The templates of ``templates.yaml`` (or ``path``), checked against the schema."""
    path = path or GRAMMAR_DIR / "templates.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    unknown = set(data) - set(INTENTS)
    if unknown:
        raise DataError(f"unknown intents {sorted(unknown)}", field=str(path),
                        fix=f"use intents from {INTENTS}")
    out = []
    for intent in INTENTS:
        for i, text in enumerate(data.get(intent) or [], start=1):
            template = Template(f"{intent}-{i:03d}", intent, text)
            for slot in template.slots:
                if SLOT.fullmatch("{" + slot + "}").group(1) not in ENTITY_TYPES:  # type: ignore[union-attr]
                    raise DataError(f"template {template.id} has an unknown slot {{{slot}}}",
                                    field=str(path), fix=f"use entity types {ENTITY_TYPES}")
            out.append(template)
    return tuple(out)


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"{path} not found", field="shared_dir",
                        fix="point RECSTACK_DATA__SHARED_DIR (or shared_dir=) at the shared "
                            "data folder that holds gazetteer/ and jeju/")
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _city_names(names_ko: str, countries: set[str]) -> list[str]:
    """The Korean names of one city, ``오사카 시`` written as users do (``오사카``), except
    where that would be a country's name (``멕시코 시`` stays; ``멕시코`` is the country)."""
    names = []
    for name in (n.strip() for n in names_ko.split("|")):
        short = name.removesuffix(" 시")
        names.append(name if short in countries and short != name else short)
    return list(dict.fromkeys(n for n in names if n))


def load_place_fillers(shared_dir: Path) -> tuple[dict[str, list[str]], dict[str, str],
                                                  list[set[str]]]:
    """Countries, gazetteer cities and Jeju attractions from the shared data.

    Returns:
        ``(fillers, country_of, synonyms)``: fillers for ``COUNTRY``, ``CITY`` and ``POI``;
        the country of each city name; the sets of names that spell one city.
    """
    countries = [r["name_ko"].strip() for r in
                 _read_csv(shared_dir / "gazetteer" / "countries_ko_en.csv") if r["name_ko"]]
    rows = _read_csv(shared_dir / "gazetteer" / "cities_ko_en_geonames.csv")
    rows.sort(key=lambda r: -int(r["population"] or 0))
    per_country: dict[str, int] = {}
    cities: list[str] = []
    country_of: dict[str, str] = {}
    synonyms: list[set[str]] = []
    for row in rows:
        if len(synonyms) >= N_CITIES:
            break
        if per_country.get(row["country_code"], 0) >= CITIES_PER_COUNTRY:
            continue
        names = _city_names(row["names_ko"], set(countries))
        if not names:
            continue
        per_country[row["country_code"]] = per_country.get(row["country_code"], 0) + 1
        synonyms.append(set(names))
        for name in names:
            cities.append(name)
            country_of.setdefault(name, row["country_ko"])
    pois: list[str] = []
    jeju = shared_dir / "jeju" / "jeju_attractions_geocoded.csv"
    if jeju.is_file():  # optional: the hand-written POIs suffice without it
        names = sorted({r["AREA_NM"].strip() for r in _read_csv(jeju)
                        if _JEJU_NAME.fullmatch(r["AREA_NM"].strip())
                        and not _NOT_ATTRACTION.search(r["AREA_NM"].strip())})
        step = max(1, len(names) // N_JEJU_POIS)
        pois = names[::step][:N_JEJU_POIS]
    return ({"COUNTRY": list(dict.fromkeys(countries)), "CITY": list(dict.fromkeys(cities)),
             "POI": pois}, country_of, synonyms)


def load_grammar(shared_dir: Path | None = None) -> Grammar:
    """The full grammar: package templates and fillers plus the shared data's places.

    Args:
        shared_dir: the shared data folder; default the settings' ``shared_data_dir``.
    """
    if shared_dir is None:
        from recstack.settings import Settings

        shared_dir = Settings().shared_data_dir
    written = yaml.safe_load((GRAMMAR_DIR / "fillers.yaml").read_text(encoding="utf-8"))
    places, country_of, synonyms = load_place_fillers(Path(shared_dir))
    fillers: dict[str, tuple[str, ...]] = {}
    for key in sorted(set(written) | set(places)):
        values = [str(v) for v in written.get(key) or []] + places.get(key, [])
        fillers[key] = tuple(dict.fromkeys(values))
    return Grammar(load_templates(), fillers, country_of,
                   tuple(frozenset(s) for s in synonyms))


def place_groups(grammar: Grammar) -> list[list[str]]:
    """Place names grouped so that no group shares a place with another: spellings of one
    city, and names where one holds another (``하롱베이`` in ``하롱베이 크루즈``).

    Returns:
        Groups as sorted lists, in a deterministic order.
    """
    names = sorted(grammar.place_names())
    parent = {n: n for n in names}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    def union(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    for group in grammar.synonyms:
        present = [n for n in group if n in parent]
        for other in present[1:]:
            union(present[0], other)
    long_names = [n for n in names if len(n) >= 2]
    for short in long_names:
        for name in long_names:
            if short != name and short in name:
                union(short, name)
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(find(n), []).append(n)
    return sorted(groups.values())
