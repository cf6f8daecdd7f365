"""A Korean ↔ English place-matching evaluation set built from the shared gazetteer.

The gazetteer (``<shared data>/gazetteer/cities_ko_en_geonames.csv``) gives 6,150 real cities
with their English name, one or more Hangul names (``상하이|상해``) and coordinates. Each city
is a place; some also get their main station and airport as places of their own ("부산역" /
"Busan Station", a few km from the centre; "부산공항" / "Busan Airport", 10–25 km out), so
similar names that are different places exist. The left record is the company database's
Korean entry, the right one the global database's English entry, with the noise two real
databases have:

- transliteration variants: any of the city's Hangul names (``상하이`` or ``상해``);
- suffixes: ``시`` / ``광역시`` / " City" / "-si" on cities, ``역`` / " Station" / " Railway
  Station" on stations, ``공항`` / ``국제공항`` / " Airport" / " International Airport";
- coordinates jittered (each database geocodes its own way) and missing on some records.

Negatives are hard: the nearest other places (a city's own station and airport among them),
the places whose English names look most like the left record's romanised name, and one at
random. Some left records keep only negatives, so "none of these" is a right answer too.
Places are split into train / valid / test by city (a station and its airport go with their
city), and a pair only joins two places of the same split: no place is in two splits. The
whole set is a function of the file and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recstack.errors import DataError
from recstack.matching.crosslingual import split_kind
from recstack.matching.data import PairSet, Record

__all__ = ["Place", "build_korean_english_pairs", "english_record", "gazetteer_places",
           "korean_record", "split_places", "write_pairs"]

GAZETTEER = Path("gazetteer") / "cities_ko_en_geonames.csv"
SPLITS = {"train": 0.6, "valid": 0.2, "test": 0.2}


@dataclass(frozen=True)
class Place:
    """One real-world place: a city, or its station or airport."""

    key: str  # geonameid, plus ":station" / ":airport"
    group: str  # the city's geonameid: the unit of the split
    kind: str  # "city", "station", "airport"
    name_en: str
    names_ko: tuple[str, ...]
    lat: float
    lon: float
    country: str


def gazetteer_places(path: str | Path, *, seed: int = 0, station_share: float = 0.15,
                     airport_share: float = 0.10, limit: int | None = None) -> list[Place]:
    """The gazetteer's cities as places, plus a station and an airport for a seeded share.

    Args:
        path: ``cities_ko_en_geonames.csv``.
        seed: chooses which cities get a station / an airport and where they lie.
        station_share: share of cities that also get a main station (1–4 km from the centre).
        airport_share: share that also get an airport (10–25 km out).
        limit: keep only the most populous ``limit`` cities (the file is sorted by population).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no gazetteer at {path}", field="gazetteer",
                        fix="point at <shared data>/gazetteer/cities_ko_en_geonames.csv")
    frame = pd.read_csv(path, dtype={"geonameid": str}, keep_default_na=False)
    if limit is not None:
        frame = frame.head(limit)
    rng = np.random.default_rng(seed)
    places: list[Place] = []
    for row in frame.to_dict("records"):
        names = tuple(n.strip() for n in str(row["names_ko"]).split("|") if n.strip())
        city, name_en = str(row["geonameid"]), str(row["name_en"]).strip()
        if not names or not name_en:
            continue
        lat, lon = float(row["latitude"]), float(row["longitude"])
        country = str(row["country_code"])
        places.append(Place(city, city, "city", name_en, names, lat, lon, country))
        # Derived places take the city's shortest Hangul name without its 시 ("양저우 시" →
        # "양저우역", not "양저우 시역").
        short = (split_kind(min(names, key=len))[0],)
        if rng.random() < station_share:
            dlat, dlon = _offset(rng, lat, 1_000, 4_000)
            places.append(Place(f"{city}:station", city, "station", name_en, short,
                                lat + dlat, lon + dlon, country))
        if rng.random() < airport_share:
            dlat, dlon = _offset(rng, lat, 10_000, 25_000)
            places.append(Place(f"{city}:airport", city, "airport", name_en, short,
                                lat + dlat, lon + dlon, country))
    return places


def _offset(rng: np.random.Generator, lat: float, low_m: float, high_m: float
            ) -> tuple[float, float]:
    """A random (dlat, dlon) in degrees, between ``low_m`` and ``high_m`` metres away."""
    distance = rng.uniform(low_m, high_m)
    angle = rng.uniform(0, 2 * np.pi)
    dlat = distance * np.cos(angle) / 111_320.0
    dlon = distance * np.sin(angle) / (111_320.0 * max(np.cos(np.radians(lat)), 0.05))
    return float(dlat), float(dlon)


def _maybe_coordinates(rng: np.random.Generator, place: Place, jitter_m: float,
                       missing: float) -> tuple[float | None, float | None]:
    if rng.random() < missing:
        return None, None
    dlat, dlon = _offset(rng, place.lat, 0.0, jitter_m)
    return round(place.lat + dlat, 5), round(place.lon + dlon, 5)


def korean_record(place: Place, rng: np.random.Generator, *, missing: float = 0.25,
                  jitter_m: float = 1_500) -> Record:
    """The company database's entry: a Hangul name variant with a kind suffix (sometimes)."""
    name = place.names_ko[int(rng.integers(len(place.names_ko)))]
    if place.kind == "station":
        name += "역"
    elif place.kind == "airport":
        name += "국제공항" if rng.random() < 0.3 else "공항"
    elif rng.random() < 0.3 and not name.endswith("시"):
        name += " 시" if rng.random() < 0.2 else "시"
    lat, lon = _maybe_coordinates(rng, place, jitter_m, missing)
    return Record(name, lat, lon)


def english_record(place: Place, rng: np.random.Generator, *, missing: float = 0.15,
                   jitter_m: float = 1_500) -> Record:
    """The global database's entry: the English name with its kind's usual suffix."""
    name = place.name_en
    if place.kind == "station":
        name += " Railway Station" if rng.random() < 0.3 else " Station"
    elif place.kind == "airport":
        name += " International Airport" if rng.random() < 0.4 else " Airport"
    elif rng.random() < 0.1 and not name.lower().endswith(("city", "-si")):
        name += " City"
    lat, lon = _maybe_coordinates(rng, place, jitter_m, missing)
    return Record(name, lat, lon)


def split_places(places: list[Place], seed: int) -> dict[str, list[Place]]:
    """Places into train / valid / test by city group (shares in ``SPLITS``), from the seed."""
    groups = sorted({p.group for p in places})
    order = np.random.default_rng(seed + 1).permutation(len(groups))
    bounds = np.cumsum([round(share * len(groups)) for share in SPLITS.values()])
    names = list(SPLITS)
    assignment = {groups[index]: names[min(int(np.searchsorted(bounds, position, "right")),
                                           len(names) - 1)]
                  for position, index in enumerate(order)}
    out: dict[str, list[Place]] = {name: [] for name in SPLITS}
    for place in places:
        out[assignment[place.group]].append(place)
    return out


def _pairs_for(places: list[Place], rng: np.random.Generator, *, near_k: int, name_k: int,
               positive_share: float, source: str) -> PairSet:
    """Each place's Korean record against its English one and its hard negatives."""
    from rapidfuzz import fuzz, process
    from sklearn.neighbors import BallTree

    from recstack.matching.crosslingual import romanize

    points = np.radians([[p.lat, p.lon] for p in places])
    tree = BallTree(points, metric="haversine")
    _, near = tree.query(points, k=min(near_k + 1, len(places)))
    english = [p.name_en.lower() for p in places]
    left: list[Record] = []
    right: list[Record] = []
    labels: list[int] = []
    for i, place in enumerate(places):
        korean = korean_record(place, rng)
        others: list[int] = [int(j) for j in near[i] if j != i][:near_k]
        roman = romanize(korean.name)
        similar = process.extract(roman, english, scorer=fuzz.ratio, limit=name_k + 4)
        others += [j for _, _, j in similar if j != i and j not in others][:name_k]
        others.append(int(rng.integers(len(places))))
        if rng.random() < positive_share:
            left.append(korean)
            right.append(english_record(place, rng))
            labels.append(1)
        for j in dict.fromkeys(others):  # ordered, without repeats
            if j == i or places[j].key == place.key:
                continue
            left.append(korean)
            right.append(english_record(places[j], rng))
            labels.append(0)
    order = rng.permutation(len(left))
    return PairSet([left[k] for k in order], [right[k] for k in order],
                   np.asarray(labels, dtype=np.int8)[order], source=source)


def build_korean_english_pairs(path: str | Path, *, seed: int = 0, limit: int | None = None,
                               near_k: int = 2, name_k: int = 2, positive_share: float = 0.85
                               ) -> dict[str, PairSet]:
    """Train, valid and test pairs (Korean left record, English right record, 0/1 label).

    Args:
        path: ``cities_ko_en_geonames.csv`` (``<shared data>/gazetteer/…``).
        seed: everything random (derived places, name variants, noise, splits) follows it.
        limit: only the most populous ``limit`` cities (for quick runs and tests).
        near_k: nearest other places paired as negatives.
        name_k: most similarly named other places (English name vs romanised Korean name).
        positive_share: share of places whose true English record is among their pairs (the
            others test "none of these").
    """
    places = gazetteer_places(path, seed=seed, limit=limit)
    if len(places) < 10:
        raise DataError(f"{path} yields only {len(places)} places", field="gazetteer",
                        fix="give the full gazetteer (or a larger limit)")
    splits = split_places(places, seed)
    rng = np.random.default_rng(seed + 2)
    return {name: _pairs_for(split, rng, near_k=near_k, name_k=name_k,
                             positive_share=positive_share, source=f"ko-en/{name}")
            for name, split in splits.items()}


def write_pairs(pairs: PairSet, path: str | Path) -> Path:
    """Write a pair set in the Geo-ER serialisation (``recstack match train`` reads it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def serialise(record: Record) -> str:
        text = f"COL name VAL {record.name}"
        if record.has_coordinates:
            text += f" COL latitude VAL {record.lat} COL longitude VAL {record.lon}"
        return text

    labels = pairs.labels if pairs.labels is not None else [None] * len(pairs)
    with path.open("w", encoding="utf-8") as handle:
        for a, b, label in zip(pairs.left, pairs.right, labels, strict=True):
            handle.write(f"{serialise(a)}\t{serialise(b)}"
                         + ("" if label is None else f"\t{int(label)}") + "\n")
    return path
