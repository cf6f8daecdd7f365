"""Nearness to a named attraction: "성산일출봉 근처 …", "협재해수욕장 주변 …", "한라산 가까운 …".

The graph knows 1,353 attractions by name (1,295 with coordinates) and, for each geocoded one,
its distance to every district centre (``DISTANCE_TO``: merchants have no coordinates of their
own, only a 읍/면/동, so a merchant is as far from an attraction as its district's centre is).
A question is read for an attraction only where it says a nearness word (근처, 주변, 인근,
부근, 가까운, 근방); the attraction is the phrase just before that word, so a short name such as
``농개`` never matches inside another word. Names are matched with spaces removed (``성산
일출봉`` = ``성산일출봉``) and in the forms people say: without the data's parenthesis
(``성산일출봉(UNESCO 세계자연유산)`` → ``성산일출봉``) and without a generic ending (``한라산
국립공원`` → ``한라산``, ``협재해수욕장`` → ``협재``). A form shared by attractions more than
:data:`SAME_PLACE_KM` apart is ambiguous (one clarifying question); a form shared by attractions
that close together names one place.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rapidfuzz import process

from recstack.errors import DataError
from recstack.text import strip_particle

NEAR_RADIUS_KM = 5.0  # "근처": the attraction's own district and districts centred within this
MAX_RADIUS_KM = 30.0
SAME_PLACE_KM = 2.0  # attractions sharing a short name this close are one place to a district
NEAR_WORDS = ("근처", "주변", "인근", "부근", "가까운", "가까이", "가깝", "근방")
_RADIUS_WORDS = r"(?:km|킬로미터|킬로|키로)"
_RADIUS = re.compile(r"(\d+(?:\.\d+)?)\s*" + _RADIUS_WORDS, re.IGNORECASE)
# A nearness word, or a radius (천지연폭포 3km 이내) standing for one.
_NEAR = re.compile("|".join(NEAR_WORDS) + r"|\d+(?:\.\d+)?" + _RADIUS_WORDS, re.IGNORECASE)
# Endings people leave off (longest first): 한라산국립공원 → 한라산, 협재해수욕장 → 협재.
GENERIC_ENDINGS = ("국립공원", "관광단지", "해수욕장", "해안도로", "해변", "해안", "폭포", "포구",
                   "공원", "계곡", "티뮤지엄", "뮤지엄", "박물관", "미술관", "테마파크", "휴양림")
# Particles between the name and the nearness word: 한라산에서 가까운, 공항의 주변.
_BEFORE_NEAR = ("에서", "이랑", "랑", "과", "와", "의", "에")
# What people call a place that the data names otherwise.
COMMON_NAMES = {"제주공항": "제주국제공항", "공항": "제주국제공항",
                "일출봉": "성산일출봉(UNESCO 세계자연유산)", "한라산": "한라산국립공원"}
NOT_PLACES = frozenset({"이", "그", "저", "여기", "거기", "저기", "이곳", "그곳", "우리", "집",
                        "숙소", "호텔", "내", "제", "현재", "지금", "가장", "제일", "젤", "더",
                        "좀", "제주", "제주도", "제주시", "서귀포", "서귀포시"})


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class Nearness:
    """An attraction a question is near, where its name sits in the spaceless question, and
    the radius (km) a 근처 means."""

    attraction: str
    start: int
    end: int
    radius_km: float = NEAR_RADIUS_KM


class Attractions:
    """The attractions' names and the forms they are asked by.

    Args:
        rows: one dict per attraction with ``name``, ``lat`` and ``lng`` (None without
            coordinates).
        reserved: spaceless forms that mean something else (district names such as 중문 or
            애월, which win over an attraction's short form).
    """

    def __init__(self, rows: Iterable[dict[str, Any]], reserved: Iterable[str] = ()):
        self.coordinates: dict[str, tuple[float, float] | None] = {}
        for row in rows:
            lat, lng = row.get("lat"), row.get("lng")
            if lat is None or lng is None or math.isnan(float(lat)):
                self.coordinates[str(row["name"])] = None
            else:
                self.coordinates[str(row["name"])] = (float(lat), float(lng))
        reserved = self.reserved = set(reserved)
        self.missing: str | None = None  # why distances cannot be asked (an old graph)
        # Exact names first: a form maps to the attractions at the first level naming it.
        self.forms: dict[str, list[str]] = {}
        levels: list[dict[str, list[str]]] = [{}, {}, {}]
        for name in self.coordinates:
            full = _compact(name)
            base = _compact(re.sub(r"\([^)]*\)", "", name)) or full
            short = next((base[:-len(e)] for e in GENERIC_ENDINGS
                          if base.endswith(e) and len(base) - len(e) >= 2), None)
            for rank, form in enumerate((full, base, short)):
                if form and len(form) >= 2 and form not in reserved:
                    levels[rank].setdefault(form, []).append(name)
        for level in levels:
            for form, names in level.items():
                self.forms.setdefault(form, sorted(set(names)))
        for form, name in COMMON_NAMES.items():
            if name in self.coordinates and form not in reserved:
                self.forms.setdefault(form, [name])
        self._longest = max((len(f) for f in self.forms), default=0)

    def resolve(self, form: str, context: str = "") -> str:
        """The one attraction ``form`` names; a DataError (field ``attraction``) when it names
        several places or an attraction without coordinates. An ambiguous form is settled by
        the rest of the question (``context``) saying more of one name: the reply to the
        clarifying question, ``표선면`` for 붉은오름(표선면)."""
        names = self.forms[form]
        if len(names) > 1 and context:
            said = [n for n in names if _said(n, form, context)]
            names = said[:1] or names
        located = [n for n in names if self.coordinates[n] is not None]
        if not located:
            raise DataError(f"{names[0]!r} has no coordinates in the data, so nothing can be "
                            "measured from it", field="attraction",
                            fix="name a place nearby, or a 읍/면/동 (e.g. 애월읍)")
        first = self.coordinates[located[0]]
        assert first is not None
        if all(haversine_km(*first, *c) <= SAME_PLACE_KM
               for n in located[1:] if (c := self.coordinates[n]) is not None):
            return min(located, key=lambda n: (_ending_rank(n), len(n), n))
        raise DataError(f"{form!r} names {len(located)} attractions: {', '.join(located[:5])}",
                        field="attraction", fix="say which, e.g. " + located[0])

    def find(self, text: str, used: list[bool] | None = None) -> Nearness | None:
        """The attraction ``text`` is asked near, or None when it says no nearness word.

        ``used`` (one flag per character of the spaceless text) gets the name's characters
        marked, so that ``성산`` inside 성산일출봉 is not also read as 성산읍.

        Raises:
            DataError: field ``attraction``: an unknown name before the nearness word (the
                nearest known names in ``fix``), or an ambiguous one.
        """
        compact = _compact(text)
        near = _NEAR.search(compact)
        if near is None:
            return None
        end = near.start()
        for filler in ("가장", "제일", "젤", "더", "좀", "꽤"):  # 천지연폭포에서 가장 가까운
            if compact[:end].endswith(filler):
                end -= len(filler)
                break
        for particle in _BEFORE_NEAR:
            if compact[:end].endswith(particle) and compact[:end - len(particle)].endswith(
                    tuple(self.forms)):
                end -= len(particle)
                break
        radius = _radius(text)
        for length in range(min(self._longest, end), 1, -1):
            form = compact[end - length:end]
            if form in self.forms and not (used and any(used[end - length:end])):
                if self.missing:
                    raise DataError("this graph has no attraction distances", field="attraction",
                                    fix=self.missing)
                context = compact[:end - length] + " " + compact[end:]
                name = self.resolve(form, context)
                if used is not None:
                    used[end - length:end] = [True] * length
                    said = _said(name, form, context) if len(self.forms[form]) > 1 else None
                    at = compact.find(said) if said else -1
                    if said and at >= 0 and not any(used[at:at + len(said)]):
                        used[at:at + len(said)] = [True] * len(said)  # 표선면: not a district
                return Nearness(name, end - length, end, radius)
        self._check_unknown(text)
        return None

    def _check_unknown(self, text: str) -> None:
        """A DataError when the word before the nearness word is a name nobody knows."""
        match = re.search(r"([가-힣A-Za-z0-9]+?)\s*(?:" + _NEAR.pattern + ")", text, re.IGNORECASE)
        if match is None:
            return
        word = strip_particle(match.group(1))
        for particle in _BEFORE_NEAR:
            if word.endswith(particle) and len(word) > len(particle) + 1:
                word = word[:-len(particle)]
                break
        if len(word) < 2 or word in NOT_PLACES or _compact(word) in self.reserved:
            return
        nearest = [n for n, _, _ in process.extract(word, list(self.forms), limit=8)]
        names = list(dict.fromkeys(self.forms[n][0] for n in nearest))[:3]
        raise DataError(f"unknown attraction {word!r}", field="attraction",
                        fix="known attractions near that name: " + ", ".join(names))


def _said(name: str, form: str, context: str) -> str | None:
    """The part of ``name`` beyond ``form`` that ``context`` says (its whole name, its name
    without the parenthesis, or what the parenthesis holds), if any."""
    inside = re.findall(r"\(([^)]*)\)", name)
    for variant in (_compact(name), _compact(re.sub(r"\([^)]*\)", "", name)),
                    *(_compact(part) for text in inside for part in text.split(","))):
        if len(variant) >= 2 and variant != form and variant in context:
            return variant
    return None


def _ending_rank(name: str) -> int:
    """협재 means 협재해수욕장 before 협재포구: the endings' order in GENERIC_ENDINGS."""
    base = _compact(re.sub(r"\([^)]*\)", "", name))
    return next((i for i, e in enumerate(GENERIC_ENDINGS) if base.endswith(e)),
                len(GENERIC_ENDINGS))


def _radius(text: str) -> float:
    match = _RADIUS.search(text)
    if match is None:
        return NEAR_RADIUS_KM
    km = float(match.group(1))
    if not 0 < km <= MAX_RADIUS_KM:
        raise DataError(f"a radius of {km:g} km", field="attraction",
                        fix=f"ask within 1 to {MAX_RADIUS_KM:g} km")
    return km
