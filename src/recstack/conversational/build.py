"""``recstack chat build``: load the Jeju merchant and attraction data into the graph.

Idempotent: the graph stores a fingerprint of its inputs and schema, and a build whose
fingerprint matches changes nothing and says so. Any difference rebuilds the graph from scratch
(seconds), which is simpler and safer than diffing 5,409 merchants.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from recstack.conversational.graph import KuzuStore, graph_backend, graph_path
from recstack.conversational.schema import (
    ATTRACTION_CSV,
    BANDS,
    MERCHANT_CSV,
    REVIEW_GLOB,
    SCHEMA_VERSION,
    SHARES,
    ddl,
)
from recstack.errors import NotFoundError
from recstack.settings import Settings

if TYPE_CHECKING:
    from rich.progress import Progress

_BAND_COLUMNS = {"cnt_band": "이용건수", "amt_band": "이용금액", "avg_amt_band": "건당평균이용금액"}
assert set(_BAND_COLUMNS) == set(BANDS)


@dataclass
class BuildReport:
    """What a build did."""

    path: Path | str  # the kuzu file, or the Neo4j server and database
    changed: bool
    counts: dict[str, int]
    seconds: float
    fingerprint: str


def input_files(settings: Settings) -> list[Path]:
    """The shared CSVs the graph is built from; a NotFoundError naming the missing one."""
    files = [settings.shared_data_dir / MERCHANT_CSV, settings.shared_data_dir / ATTRACTION_CSV]
    for path in files:
        if not path.is_file():
            raise NotFoundError(f"the Jeju data file {path} is missing", field="data.shared_dir",
                                fix="set RECSTACK_DATA__SHARED_DIR to the shared data folder "
                                    "(it holds jeju/)")
    return files


def review_files(settings: Settings) -> list[Path]:
    """The VisitJeju review-keyword CSVs present (none is fine: keywords stay empty)."""
    return sorted(settings.shared_data_dir.glob(REVIEW_GLOB))


def read_review_keywords(files: list[Path]) -> dict[str, str]:
    """Place name → its reviews' core and positive keywords, most frequent first (at most 20).

    The reviews are of tourist sites; a few are restaurants and cafes (섬타르), which is the
    only review text the merchants have."""
    from collections import Counter

    counts: dict[str, Counter[str]] = {}
    for path in files:
        frame = pd.read_csv(path, encoding="utf-8-sig")
        for name, core, positive in zip(frame["TRRSRT_NM"].astype(str).str.strip(),
                                        frame["CORE_KWRD_CN"].fillna(""),
                                        frame["AFRM_KWRD_CN"].fillna(""), strict=True):
            words = [w.strip() for w in f"{core},{positive}".split(",") if w.strip()]
            counts.setdefault(name, Counter()).update(words)
    return {name: ",".join(w for w, _ in c.most_common(20)) for name, c in counts.items()}


def fingerprint(files: list[Path]) -> str:
    digest = hashlib.sha256(f"schema {SCHEMA_VERSION}".encode())
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def split_address(address: str) -> tuple[str, str]:
    """``제주 제주시 한림읍 협재리 …`` → (``제주시``, ``한림읍``); empty strings when it has no
    시 and 읍/면/동 (one merchant's address is blank)."""
    tokens = address.replace("제주특별자치도", "제주").split()
    if len(tokens) >= 3 and tokens[1].endswith("시"):
        return tokens[1], tokens[2]
    return "", ""


def read_merchants(path: Path, keywords: dict[str, str] | None = None) -> pd.DataFrame:
    """The merchant CSV as the Merchant table's columns (see :mod:`.schema`); ``keywords``
    maps a name to its review keywords."""
    raw = pd.read_csv(path, encoding="utf-8-sig")
    places = raw["지역"].fillna("").map(split_address)
    frame = pd.DataFrame({
        "id": range(len(raw)), "name": raw["가맹점명"].str.strip(),
        "category": raw["판매음식종류"].str.strip(),
        "opened": [datetime.datetime.strptime(str(v), "%Y%m%d").date() for v in raw["개설일자"]],
        "address": raw["지역"].fillna("").str.strip(),
        "city": [city for city, _ in places], "dong": [dong for _, dong in places],
    })
    frame["district"] = [f"{c} {d}" if c else "" for c, d in places]
    for prop, column in _BAND_COLUMNS.items():
        frame[prop] = raw[column].str.split("_").str[0].astype("int64")  # "1_상위 10% 이하" → 1
    for share in SHARES:
        frame[share.prop] = raw[share.column].astype("float64")
    frame["text"] = raw["text"].fillna("")
    frame["keywords"] = frame["name"].map(keywords or {}).fillna("")
    return frame


def _haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def read_attractions(path: Path, districts: set[str]
                     ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Attractions (district placed by the road address, else the lot address), their NEAR
    edges with the distance to the district's centre (mean of its geocoded attractions), and
    the DISTANCE_TO edges from every geocoded attraction to every district centre."""
    raw = pd.read_csv(path, encoding="utf-8-sig")
    placed = []
    for new, old in zip(raw["New_ADDR"].fillna(""), raw["Old_ADDR"].fillna(""), strict=True):
        names = [" ".join(split_address(a)) for a in (new, old)]
        placed.append(next((n for n in names if n in districts), ""))
    frame = pd.DataFrame({"name": raw["AREA_NM"].str.strip(),
                          "address": raw["New_ADDR"].fillna("").str.strip(),
                          "district": placed, "lat": raw["lat"], "lng": raw["lng"]})
    frame = frame.drop_duplicates("name")
    located = frame[(frame["district"] != "") & frame["lat"].notna()]
    centres = located.groupby("district")[["lat", "lng"]].mean()
    edges = frame[frame["district"] != ""][["name", "district", "lat", "lng"]]
    distances = [
        _haversine_km(lat, lng, *centres.loc[d]) if not math.isnan(lat) else None
        for d, lat, lng in zip(edges["district"], edges["lat"], edges["lng"], strict=True)]
    near = pd.DataFrame({"from": edges["name"], "to": edges["district"],
                         "distance_km": pd.array(distances, dtype="Float64")})
    geocoded = frame[frame["lat"].notna()]
    pairs = [(name, district, _haversine_km(lat, lng, *centres.loc[district]))
             for name, lat, lng in zip(geocoded["name"], geocoded["lat"], geocoded["lng"],
                                       strict=True)
             for district in centres.index]
    distance_to = pd.DataFrame(pairs, columns=["from", "to", "km"])
    return frame, near, distance_to


def _stored_fingerprint(path: Path) -> str | None:
    try:
        store = KuzuStore(path, read_only=True)
    except RuntimeError:
        return None  # a half-written or foreign file: rebuilt below
    try:
        rows = store.execute("MATCH (m:Meta {key: 'fingerprint'}) RETURN m.value")
    except RuntimeError:
        rows = []
    finally:
        store.close()
    return str(rows[0][0]) if rows else None


def _remove(path: Path) -> None:
    for item in (path, path.with_name(path.name + ".wal"), path.with_name(path.name + ".lock")):
        if item.is_dir():
            shutil.rmtree(item)
        elif item.exists():
            item.unlink()


def read_tables(merchant_csv: Path, attraction_csv: Path, reviews: list[Path]
                ) -> dict[str, pd.DataFrame]:
    """Every node and edge table as a frame, keyed by label, in load order (nodes first); the
    columns are the schema's properties (edges: ``from``, ``to``, then the edge's properties).
    Both backends load these same frames."""
    merchants = read_merchants(merchant_csv, read_review_keywords(reviews))
    placed = merchants[merchants["district"] != ""]
    districts = placed.drop_duplicates("district")[["district", "city", "dong"]].rename(
        columns={"district": "name"})
    categories = merchants.groupby("category").size().rename("merchants").reset_index().rename(
        columns={"category": "name"})
    attractions, near, distance_to = read_attractions(attraction_csv, set(districts["name"]))
    in_district = placed[["id", "district"]].rename(columns={"id": "from", "district": "to"})
    of_category = merchants[["id", "category"]].rename(columns={"id": "from", "category": "to"})
    return {"Merchant": merchants, "District": districts, "Category": categories,
            "Attraction": attractions, "IN_DISTRICT": in_district,
            "OF_CATEGORY": of_category, "NEAR": near, "DISTANCE_TO": distance_to}


def build_graph(settings: Settings, *, force: bool = False,
                progress: Progress | None = None) -> BuildReport:
    """Build (or keep) the graph; see the module docstring for when it changes. With
    ``RECSTACK_CHAT__GRAPH_BACKEND=neo4j`` the same tables go to the Neo4j server
    (:func:`recstack.conversational.neo4j_store.build_neo4j`)."""
    if graph_backend(settings) == "neo4j":
        from recstack.conversational.neo4j_store import build_neo4j

        return build_neo4j(settings, force=force, progress=progress)
    started = time.perf_counter()
    files = input_files(settings)
    reviews = review_files(settings)
    inputs = fingerprint(files + reviews)
    path = graph_path(settings)
    if path.exists() and not force and _stored_fingerprint(path) == inputs:
        return BuildReport(path, False, {}, time.perf_counter() - started, inputs)
    steps = ["read the CSVs", "create tables", "Merchant", "District", "Category", "Attraction",
             "IN_DISTRICT", "OF_CATEGORY", "NEAR", "DISTANCE_TO", "fingerprint"]
    task = progress.add_task("chat build", total=len(steps)) if progress is not None else None

    def step(name: str) -> None:
        if progress is not None and task is not None:
            progress.update(task, advance=1, description=f"chat build: {name}")

    tables = read_tables(files[0], files[1], reviews)
    step(steps[0])
    _remove(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = KuzuStore(path, read_only=False)
    try:
        for statement in ddl():
            store.execute(statement)
        step(steps[1])
        for label, frame in tables.items():
            store.copy_frame(label, frame)
            step(label)
        store.execute("CREATE (:Meta {key: 'fingerprint', value: $v})", {"v": inputs})
        step(steps[-1])
    except BaseException:
        store.close()
        _remove(path)  # never leave a half-built graph that the next build would trust
        raise
    store.close()
    counts = {label: len(frame) for label, frame in tables.items()}
    return BuildReport(path, True, counts, time.perf_counter() - started, inputs)
