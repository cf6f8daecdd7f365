"""Open recommendations ("부모님 모시고 갈 애월 흑돼지집 추천해줘"): three stages, each measured.

1. **vector**: the question's e5 embedding against the merchants' cached e5 vectors, within the
   place (and category) the question names; the top ``n_vector`` by cosine.
2. **graph fill**: the confident hits (cosine within ``margin`` of the best) form the shortlist;
   when it holds fewer than ``min_candidates``, FastRP neighbours of the shortlist (same place,
   similar kind and customers) fill it.
3. **final pick**: a transparent score over the candidates — text similarity, segment fit (the
   companion or age the question names, as the percentile of those customer shares among all
   merchants), usage (이용건수 band) and distance from a named attraction to the merchant's
   district centre — and the top three with every component in the reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recstack.conversational.graph import GraphStore
from recstack.conversational.parser import Reading, _compact
from recstack.conversational.schema import SHARE_BY_PROP, SHARES
from recstack.conversational.validator import validate_cypher

# Who comes along → the customer shares that fit them (the data has age and gender only).
COMPANIONS: dict[str, tuple[str, ...]] = {
    "부모님": ("age50", "age60"), "어르신": ("age60",), "할머니": ("age60",),
    "할아버지": ("age60",), "효도": ("age50", "age60"), "시부모": ("age50", "age60"),
    "가족": ("age40", "age50"), "아이": ("age30", "age40"), "애들": ("age30", "age40"),
    "아기": ("age30",), "친구": ("age20", "age30"), "연인": ("age20", "age30"),
    "데이트": ("age20", "age30"), "커플": ("age20", "age30"), "여자친구": ("age20", "age30"),
    "남자친구": ("age20", "age30"), "회식": ("age40", "age50", "male"),
    "동료": ("age30", "age40"), "엄마": ("age50", "female"), "아빠": ("age50", "male"),
}
WEIGHTS = {"text": 0.4, "segment": 0.3, "usage": 0.15, "distance": 0.15}
DISTANCE_SCALE_KM = 5.0  # the distance score is exp(-km / 5): 1 at the door, 0.37 at 5 km
BAND_WORDS = ("상위 10%", "상위 10~25%", "25~50%", "50~75%", "75~90%", "하위 10%")
NEAR_KM = 10.0  # an attraction without a district: candidates within this of it


@dataclass
class Stages:
    """Merchant ids each stage produced (for the benchmark's recall)."""

    vector: list[int]
    candidates: list[int]
    filled: list[int]
    final: list[int]


def _haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(a))


class Recommender:
    """Open recommendations over one graph, its cached e5 vectors and FastRP embeddings.

    Args:
        store: the graph.
        ids, vectors: the merchants' e5 vectors (:func:`~.vectors.load_vectors`); only these
            merchants are recommended.
        encode: question → e5 ``query:`` vector.
        graph_embeddings: (ids, FastRP vectors); computed from ``store`` when None.
    """

    def __init__(self, store: GraphStore, ids: np.ndarray, vectors: np.ndarray,
                 encode: Callable[[str], np.ndarray],
                 graph_embeddings: tuple[np.ndarray, np.ndarray] | None = None, *,
                 n_vector: int = 20, margin: float = 0.02, min_candidates: int = 6,
                 max_candidates: int = 12):
        from recstack.conversational.vectors import fastrp

        self.store, self.encode = store, encode
        self.encode_passage: Callable[[list[str]], np.ndarray] | None = None
        self.n_vector, self.margin = n_vector, margin
        self.min_candidates, self.max_candidates = min_candidates, max_candidates
        props = [s.prop for s in SHARES]
        rows = store.query("MATCH (m:Merchant) RETURN m.id AS id, m.name AS name, "
                           "m.district AS district, m.city AS city, m.category AS category, "
                           "m.cnt_band AS cnt_band, "
                           + ", ".join(f"m.{p} AS {p}" for p in props))
        self.frame = pd.DataFrame(rows).set_index("id").sort_index()
        self.percentile = self.frame[props].rank(pct=True)
        self.ids = ids
        self.vectors = vectors
        self.row_of = {int(i): r for r, i in enumerate(ids)}
        graph_ids, graph_vectors = graph_embeddings or fastrp(store)
        self.graph = pd.DataFrame(graph_vectors, index=graph_ids).loc[ids].to_numpy()
        attractions = store.query("MATCH (a:Attraction) WHERE a.lat IS NOT NULL RETURN "
                                  "a.name AS name, a.district AS district, a.lat AS lat, "
                                  "a.lng AS lng")
        self.attractions = {_compact(a["name"]): a for a in attractions if len(a["name"]) >= 3}
        centres = pd.DataFrame(attractions)
        centres = centres[centres["district"] != ""].groupby("district")[["lat", "lng"]].mean()
        self.centres: dict[str, tuple[float, float]] = {
            str(d): (float(r.lat), float(r.lng)) for d, r in centres.iterrows()}

    def attraction_in(self, question: str, districts: set[str] | None = None) -> dict | None:
        """The longest attraction name the question contains (not a district name)."""
        compact = _compact(question)
        districts = districts or set()
        for key in sorted(self.attractions, key=len, reverse=True):
            if key in compact and key not in districts:
                return self.attractions[key]
        return None

    def recommend(self, question: str, reading: Reading, k: int = 3,
                  hyde: np.ndarray | None = None) -> tuple[dict[str, Any], Stages]:
        """The ``k`` best merchants for ``question`` with reasons, and every stage's ids;
        ``hyde``: the e5 passage vector of a hypothetical answer, added to the question's."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        districts = {d.split(" ", 1)[1] for d in self.centres} | {
            d.split(" ", 1)[1][:-1] for d in self.centres}
        # The parser's reading first (성산 일출봉 근처 → 성산일출봉(UNESCO 세계자연유산)).
        attraction = (self.attractions.get(_compact(reading.attraction))
                      if reading.attraction else None) or self.attraction_in(question, districts)
        meta = self.frame.loc[self.ids]
        mask = np.ones(len(self.ids), dtype=bool)
        if reading.district:
            mask &= (meta["district"] == reading.district).to_numpy()
        elif reading.city:
            mask &= (meta["city"] == reading.city).to_numpy()
        if reading.category:
            mask &= (meta["category"] == reading.category).to_numpy()
        km = self._distances(attraction, meta["district"])
        if attraction is not None and not (reading.district or reading.city):
            mask &= np.nan_to_num(km, nan=np.inf) <= NEAR_KM
        query = self.encode(question)
        if hyde is not None:
            query = query + hyde
            query = query / max(float(np.linalg.norm(query)), 1e-12)
        timings["encode_ms"] = _since(started)
        started = time.perf_counter()
        sims = self.vectors @ query
        allowed = np.flatnonzero(mask)
        order = allowed[np.argsort(-sims[allowed], kind="stable")]
        vector = order[:self.n_vector]
        best = sims[vector[0]] if len(vector) else 0.0
        shortlist = [r for r in vector if sims[r] >= best - self.margin][:self.max_candidates]
        filled: list[int] = []
        if len(shortlist) < self.min_candidates and len(shortlist):
            centre = self.graph[shortlist].mean(0)
            near = allowed[np.argsort(-(self.graph[allowed] @ centre), kind="stable")]
            filled = [r for r in near if r not in shortlist][
                :self.min_candidates - len(shortlist)]
        candidates = shortlist + filled
        timings["search_ms"] = _since(started)
        started = time.perf_counter()
        segment = self._segment(question, reading)
        scored = sorted(((self._score(r, sims, candidates, segment, km), r) for r in candidates),
                        key=lambda item: (-item[0][0], int(self.ids[item[1]])))
        final = [r for _, r in scored[:k]]
        ids = [int(self.ids[r]) for r in final]
        cypher = ("MATCH (m:Merchant) WHERE m.id IN $ids RETURN m.id AS id, m.name AS name, "
                  "m.district AS district, m.category AS category")
        validate_cypher(cypher, self.store, {"ids": ids})
        found = {int(r["id"]): r for r in self.store.query(cypher, {"ids": ids})}
        reasons = [self._reason(found[int(self.ids[r])], parts, segment, attraction)
                   for (_, parts), r in scored[:k]]
        timings["rank_ms"] = _since(started)
        ranked = {int(self.ids[r]): round(score, 4) for (score, _), r in scored}
        result = {"answer": [str(found[i]["name"]) for i in ids], "cypher": cypher,
                  "params": {"ids": ids}, "reasons": reasons, "ids": ids,
                  "timings_ms": timings,
                  "slots": {"route": "recommend", "district": reading.district,
                            "city": reading.city, "category": reading.category,
                            "segment": list(segment), "attraction": attraction and
                            attraction["name"], "scores": ranked}}
        stages = Stages([int(self.ids[r]) for r in vector], [int(self.ids[r]) for r in shortlist],
                        [int(self.ids[r]) for r in filled], ids)
        return result, stages

    # -- scoring -----------------------------------------------------------------------------

    def _segment(self, question: str, reading: Reading) -> dict[str, bool]:
        """Share property → True when a high share fits (False: a low one fits)."""
        compact = _compact(question)
        segment: dict[str, bool] = {}
        for word, props in COMPANIONS.items():
            if word in compact:
                segment.update(dict.fromkeys(props, True))
        resolved = reading.resolved()
        if resolved is not None:
            segment[resolved[0]] = resolved[1]
        return segment

    def _distances(self, attraction: dict | None, districts: pd.Series) -> np.ndarray:
        if attraction is None:
            return np.full(len(districts), np.nan)
        per_district = {d: _haversine_km(attraction["lat"], attraction["lng"], *c)
                        for d, c in self.centres.items()}
        return np.array([per_district.get(d, np.nan) for d in districts])

    def _score(self, row: int, sims: np.ndarray, candidates: list[int],
               segment: dict[str, bool], km: np.ndarray) -> tuple[float, dict[str, float]]:
        merchant = int(self.ids[row])
        values = sims[candidates]
        spread = float(values.max() - values.min()) or 1.0
        parts = {"text": float(sims[row] - values.min()) / spread, "cosine": float(sims[row]),
                 "usage": (6 - int(self._value(merchant, "cnt_band"))) / 5}
        if segment:
            pct = self.percentile.loc[merchant]
            parts["segment"] = float(np.mean([pct[p] if high else 1 - pct[p]
                                              for p, high in segment.items()]))
        if not math.isnan(km[row]):
            parts["distance"] = math.exp(-km[row] / DISTANCE_SCALE_KM)
            parts["km"] = float(km[row])
        used = [p for p in WEIGHTS if p in parts]
        total = sum(WEIGHTS[p] for p in used)
        return sum(WEIGHTS[p] * parts[p] for p in used) / total, parts

    def _value(self, merchant: int, prop: str) -> float:
        value: Any = self.frame.at[merchant, prop]
        return float(value)

    def _reason(self, row: dict[str, Any], parts: dict[str, float], segment: dict[str, bool],
                attraction: dict | None) -> str:
        merchant = int(row["id"])
        bits = [f"질문과의 유사도 {parts['cosine']:.3f}"]
        if "segment" in parts:
            shares = ", ".join(f"{SHARE_BY_PROP[p].label} {100 * self._value(merchant, p):.0f}%"
                               for p in segment)
            bits.append(f"{shares} (적합도 상위 {100 * (1 - parts['segment']):.0f}%)")
        band = int(self._value(merchant, "cnt_band"))
        bits.append(f"이용건수 {BAND_WORDS[band - 1]}")
        if "km" in parts and attraction is not None:
            bits.append(f"{attraction['name']}에서 약 {parts['km']:.1f} km (동네 중심 기준)")
        return f"{row['name']} ({row['district'] or '주소 없음'}, {row['category']}): " + \
            " · ".join(bits)


def _since(started: float) -> float:
    return round(1000 * (time.perf_counter() - started), 3)


def open_recommender(settings: Any, store: GraphStore) -> Recommender:
    """The recommender over the built vectors (a NotFoundError saying ``recstack chat build``
    when there are none); the e5 model loads on the first question."""
    from recstack.conversational.vectors import e5_passages, e5_queries, load_vectors

    ids, vectors = load_vectors(settings)
    recommender = Recommender(store, ids, vectors, e5_queries(settings))
    recommender.encode_passage = e5_passages(settings)  # HyDE documents (LLM path)
    return recommender
