"""Package recommendation: rank the company's package tours by how well their itineraries match
a user's trip planner, through place matches.

A **package** is an itinerary of stops in the company database (Korean names); a **planner** is
a user's itinerary of stops in the global database (English names, other coordinates). Each
planner stop is placed in the company database with the two stages of
:mod:`recstack.matching.stages`: blocking proposes catalogue stops (romanised name, name,
distance), stage 1 picks one or none, stage 2 verifies the pick. A package's **match rate** is
the harmonic mean of the share of the planner's stops it contains and the share of its own
stops the planner visits, so a package that covers the plan without many extra stops ranks
first; each result lists its matched and unmatched stops.

:func:`synthetic_packages` and :func:`planner_from_package` build an evaluation from real names:
packages of nearby gazetteer places in Korean, planners derived from one package by renaming
its stops into English (the other database), dropping some and adding nearby others.
:func:`recommendation_accuracy` measures how often the source package ranks first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recstack.errors import DataError
from recstack.matching.data import Record
from recstack.matching.korean_pairs import Place, english_record, korean_record

__all__ = ["MatchedStop", "Package", "PackageMatch", "Recommendation", "decision_records",
           "planner_from_package", "recommend_packages", "recommendation_accuracy",
           "synthetic_packages"]


@dataclass
class Package:
    """A package tour: an id, a title and its stops (company-database records)."""

    id: str
    title: str
    stops: list[Record]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "stops": [_stop_dict(s) for s in self.stops]}


def _stop_dict(record: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"name": record.name}
    if record.has_coordinates:
        out.update(lat=record.lat, lon=record.lon)
    return out


@dataclass
class MatchedStop:
    planner_stop: int  # position in the planner
    package_stop: int  # position in the package
    planner_name: str
    package_name: str
    score: float  # the verifier's score of the pair


@dataclass
class PackageMatch:
    """One ranked package: its match rate and which stops matched."""

    package_id: str
    title: str
    match_rate: float  # harmonic mean of the two coverages
    planner_coverage: float  # share of the planner's stops found in the package
    package_coverage: float  # share of the package's stops the planner visits
    matched: list[MatchedStop]
    unmatched_planner_stops: list[int]
    unmatched_package_stops: list[int]


@dataclass
class Recommendation:
    """Ranked packages, and each planner stop's place decision (catalogue index or None)."""

    packages: list[PackageMatch]
    stop_decisions: list[dict[str, Any]] = field(default_factory=list)


def _catalogue(packages: Sequence[Package]) -> tuple[list[Record], dict[int, list[tuple[int,
                                                                                         int]]]]:
    """The distinct stops of all packages, and where each occurs (package, stop)."""
    index: dict[Record | tuple[Any, ...], int] = {}
    records: list[Record] = []
    where: dict[int, list[tuple[int, int]]] = {}
    for p, package in enumerate(packages):
        for s, stop in enumerate(package.stops):
            key = (stop.name, stop.lat, stop.lon)
            c = index.setdefault(key, len(records))
            if c == len(records):
                records.append(stop)
            where.setdefault(c, []).append((p, s))
    return records, where


def recommend_packages(planner: Sequence[Record], packages: Sequence[Package], selector: Any,
                       verifier: Any, *, top: int = 5, candidates_k: int = 10,
                       select_threshold: float = 0.5, verify_threshold: float = 0.5
                       ) -> Recommendation:
    """Rank ``packages`` by how well they match ``planner``.

    Args:
        planner: the user's stops (global-database records).
        packages: the company's packages.
        selector: stage 1's scorer (a fitted matcher, a MatchBundle or a function).
        verifier: stage 2's scorer.
        top: packages returned (those with at least one matched stop, best first).
        candidates_k: catalogue stops proposed per planner stop by each blocker.
        select_threshold: stage 1's least score for a pick.
        verify_threshold: stage 2's least score for a yes.

    Raises:
        DataError: an empty planner or catalogue, or no planner stop matching any package stop.
    """
    from recstack.matching.blocking import BlockingConfig, block
    from recstack.matching.crosslingual import ROMAN_BLOCKER
    from recstack.matching.stages import select_many, verify_many

    if not planner:
        raise DataError("the planner has no stops", field="planner.stops",
                        fix="give at least one stop with a name (lat/lon optional)")
    catalogue, where = _catalogue(packages)
    if not catalogue:
        raise DataError("no package has any stop", field="packages",
                        fix="give packages with stops, or configure RECSTACK_MATCHING__PACKAGES")
    config = BlockingConfig(blockers=("name", "geo", ROMAN_BLOCKER), name_k=candidates_k,
                            geo_k=candidates_k)
    blocked = block(list(planner), catalogue, config)
    selections = select_many(planner, [[catalogue[j] for j in c] for c in blocked], selector,
                             threshold=select_threshold)
    picked = [(i, int(blocked[i][s.index])) for i, s in enumerate(selections)
              if s.index is not None]
    checks = verify_many([planner[i] for i, _ in picked], [catalogue[c] for _, c in picked],
                         verifier, threshold=verify_threshold)
    placed: dict[int, tuple[int, float]] = {}  # planner stop -> (catalogue stop, score)
    decisions: list[dict[str, Any]] = [
        {"planner_stop": i, "name": planner[i].name, "selected": None, "verified": False,
         "select_score": s.score, "verify_score": None} for i, s in enumerate(selections)]
    for (i, c), check in zip(picked, checks, strict=True):
        decisions[i].update(selected=catalogue[c].name, verified=check.match,
                            verify_score=check.score)
        if check.match:
            placed[i] = (c, check.score)
    if not placed:
        raise DataError(f"none of the planner's {len(planner)} stops matches a place in any "
                        "package", field="planner.stops",
                        fix="check the stop names (and coordinates); the packages cover "
                            "other places")
    ranked = [_package_match(p, package, planner, placed, where)
              for p, package in enumerate(packages)]
    ranked = [r for r in ranked if r.matched]
    ranked.sort(key=lambda r: (-r.match_rate, -r.planner_coverage, r.package_id))
    return Recommendation(ranked[:top], decisions)


def _package_match(p: int, package: Package, planner: Sequence[Record],
                   placed: dict[int, tuple[int, float]],
                   where: dict[int, list[tuple[int, int]]]) -> PackageMatch:
    matched: list[MatchedStop] = []
    for i, (c, score) in placed.items():
        stops = [s for q, s in where[c] if q == p]
        if stops:
            matched.append(MatchedStop(i, stops[0], planner[i].name,
                                       package.stops[stops[0]].name, score))
    planner_cov = len(matched) / len(planner)
    package_cov = len({m.package_stop for m in matched}) / max(len(package.stops), 1)
    rate = (2 * planner_cov * package_cov / (planner_cov + package_cov)
            if planner_cov + package_cov else 0.0)
    hit_planner = {m.planner_stop for m in matched}
    hit_package = {m.package_stop for m in matched}
    return PackageMatch(package.id, package.title, rate, planner_cov, package_cov, matched,
                        [i for i in range(len(planner)) if i not in hit_planner],
                        [s for s in range(len(package.stops)) if s not in hit_package])


def synthetic_packages(places: Sequence[Place], *, n_packages: int = 200, seed: int = 0,
                       min_stops: int = 3, max_stops: int = 6
                       ) -> tuple[list[Package], list[list[Place]]]:
    """Packages of nearby real places (company database: Korean names, its own coordinates).

    Each package starts at a random place and visits a random subset of its nearest places in
    the same country. The company database holds one record per place, which every package
    visiting the place shares. Returns the packages and, per package, the places its stops
    are.
    """
    from sklearn.neighbors import BallTree

    rng = np.random.default_rng(seed)
    places = list(places)
    by_country: dict[str, list[int]] = {}
    for i, place in enumerate(places):
        by_country.setdefault(place.country, []).append(i)
    eligible = [i for i, p in enumerate(places) if len(by_country[p.country]) > max_stops * 2]
    if not eligible:
        raise DataError("too few places per country to build packages", field="places",
                        fix="give more places (the full gazetteer)")
    trees = {c: BallTree(np.radians([[places[i].lat, places[i].lon] for i in members]),
                         metric="haversine") for c, members in by_country.items()
             if len(members) > max_stops * 2}
    packages: list[Package] = []
    stops_of: list[list[Place]] = []
    company: dict[str, Record] = {}  # the company database's one record per place
    for number in range(n_packages):
        start = places[eligible[int(rng.integers(len(eligible)))]]
        members = by_country[start.country]
        _, near = trees[start.country].query(np.radians([[start.lat, start.lon]]),
                                             k=min(max_stops * 2, len(members)))
        pool = [members[j] for j in near[0]]
        size = int(rng.integers(min_stops, max_stops + 1))
        chosen = [pool[0], *rng.choice(pool[1:], size=size - 1, replace=False).tolist()]
        itinerary = [places[i] for i in chosen]
        for place in itinerary:
            if place.key not in company:
                company[place.key] = korean_record(place, rng, missing=0.2, jitter_m=800)
        stops = [company[p.key] for p in itinerary]
        packages.append(Package(f"pkg-{number:04d}", f"{itinerary[0].names_ko[0]} 외 "
                                f"{size - 1}곳", stops))
        stops_of.append(itinerary)
    return packages, stops_of


def planner_from_package(itinerary: Sequence[Place], places: Sequence[Place],
                         rng: np.random.Generator, *, drop: int = 1, add: int = 1
                         ) -> list[Record]:
    """A user's planner derived from a package's places: renamed into the global database
    (English names, other coordinates), ``drop`` stops dropped (two kept at least), ``add``
    other places of the same country added, the order shuffled."""
    keep = list(itinerary)
    for _ in range(min(drop, max(len(keep) - 2, 0))):
        keep.pop(int(rng.integers(len(keep))))
    same_country = [p for p in places if p.country == itinerary[0].country
                    and p.key not in {q.key for q in itinerary}]
    extra = [same_country[int(i)] for i in rng.choice(len(same_country),
                                                      size=min(add, len(same_country)),
                                                      replace=False)] if same_country else []
    stops = [english_record(p, rng, missing=0.15, jitter_m=800) for p in keep + extra]
    return [stops[int(i)] for i in rng.permutation(len(stops))]


def recommendation_accuracy(packages: Sequence[Package], stops_of: Sequence[Sequence[Place]],
                            places: Sequence[Place], selector: Any, verifier: Any, *,
                            n_planners: int = 100, seed: int = 0, drop: int = 1, add: int = 1
                            ) -> dict[str, Any]:
    """How often the package a planner was derived from ranks first (and its mean reciprocal
    rank), over ``n_planners`` planners derived from random packages."""
    rng = np.random.default_rng(seed + 7)
    firsts: list[float] = []
    reciprocal: list[float] = []
    failures = 0
    for _ in range(n_planners):
        source = int(rng.integers(len(packages)))
        planner = planner_from_package(stops_of[source], places, rng, drop=drop, add=add)
        try:
            ranked = recommend_packages(planner, packages, selector, verifier, top=len(packages))
        except DataError:
            failures += 1
            firsts.append(0.0)
            reciprocal.append(0.0)
            continue
        ids = [r.package_id for r in ranked.packages]
        rank = ids.index(packages[source].id) + 1 if packages[source].id in ids else None
        firsts.append(float(rank == 1))
        reciprocal.append(1.0 / rank if rank else 0.0)
    return {"planners": n_planners, "source_ranked_first": float(np.mean(firsts)),
            "mrr": float(np.mean(reciprocal)), "no_stop_matched": failures,
            "packages": len(packages), "drop": drop, "add": add}


def decision_records(result: Recommendation, n_planner: int, n_packages: int
                     ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(features, output) per decision for the prediction log: one per planner stop (which
    catalogue stop stage 1 picked, whether stage 2 verified it), then the ranking (last)."""
    out: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"planner_name": d["name"], "selected": d["selected"],
          "select_score": d["select_score"]},
         {"prediction": int(d["verified"]), "score": d["verify_score"]})
        for d in result.stop_decisions]
    out.append(({"planner_stops": n_planner, "packages": n_packages},
                {"ranked": [p.package_id for p in result.packages],
                 "match_rates": [round(p.match_rate, 4) for p in result.packages]}))
    return out
