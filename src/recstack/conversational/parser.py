"""Korean restaurant question → slots → Cypher template (the default path, no LLM).

The parser knows the graph's districts and categories (read from the graph, so it never names
one the data lacks) and a table of synonyms; everything else — the share to rank by, direction,
how many, usage-band filters — comes from small word lists below. Spacing varies in Korean
(``단품요리 전문점`` / ``단품요리전문점``), so names are matched in the question with its spaces
removed, longest name first, each character used once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import process

from recstack.conversational.graph import GraphStore
from recstack.conversational.nearness import NEAR_RADIUS_KM, Attractions
from recstack.conversational.schema import BAND_UPPER_PERCENT, SHARE_BY_PROP
from recstack.errors import DataError
from recstack.text import strip_particle

CATEGORY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "커피": ("카페", "까페", "카패", "커피숍", "커피전문점", "커피집", "cafe", "coffee"),
    "단품요리 전문": ("단품요리전문점", "단품요리집", "단품요리"),
    "가정식": ("가정식백반", "백반집", "백반", "가정식당", "밥집"),
    "치킨": ("치킨집", "통닭", "chicken"), "분식": ("분식집",),
    "베이커리": ("빵집", "제과점", "베이커리카페", "bakery"),
    "중식": ("중식당", "중국집", "중화요리", "중국음식점"),
    "일식": ("일식집", "일식당", "스시", "초밥집"), "양식": ("양식당", "양식집"),
    "맥주/요리주점": ("요리주점", "맥주집", "호프집", "술집", "펍", "pub"),
    "피자": ("피자집", "pizza"), "꼬치구이": ("꼬치집",),
    "아이스크림/빙수": ("아이스크림", "빙수집", "빙수"),
    "햄버거": ("버거집", "수제버거", "버거", "burger"),
    "구내식당/푸드코트": ("구내식당", "푸드코트"),
    "샌드위치/토스트": ("샌드위치", "토스트"), "떡/한과": ("떡집", "한과"),
    "차": ("찻집", "전통찻집", "차전문점"), "도시락": ("도시락집",), "포장마차": ("포차",),
    "주스": ("쥬스", "주스가게"), "동남아/인도음식": ("동남아음식", "인도음식", "쌀국수"),
    "도너츠": ("도넛", "도너츠가게"), "패밀리 레스토랑": ("패밀리레스토랑",),
    "스테이크": ("스테이크하우스",), "야식": ("야식집",), "부페": ("뷔페",),
    "기타세계요리": ("세계요리",),
}
# Shares: word → property. Longer words win (20대이하 over 20대).
SHARE_WORDS: dict[str, str] = {
    **{w: "age20" for w in ("20대이하", "20대", "10대", "이십대", "젊은층", "청년층")},
    **{w: "age30" for w in ("30대", "삼십대")}, **{w: "age40" for w in ("40대", "사십대")},
    **{w: "age50" for w in ("50대", "오십대")},
    **{w: "age60" for w in ("60대이상", "60대", "70대", "육십대", "노년층", "어르신")},
    **{w: "male" for w in ("남성", "남자", "남성회원", "남자손님")},
    **{w: "female" for w in ("여성", "여자", "여성회원", "여자손님")},
    **{w: "local_share" for w in ("현지인", "도민", "제주도민", "로컬")},
    **{w: "tourist" for w in ("관광객", "여행객", "외지인", "외부인", "관광객들")},
    **{f"{d}{end}": p for d, p in zip(
        "월화수목금토일", ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), strict=True)
       for end in ("요일", "욜")},  # 금욜: spoken short form
    **{w: "h05_11" for w in ("아침", "오전", "모닝", "브런치")},
    **{w: "h12_13" for w in ("점심", "런치", "낮12시")},
    **{w: "h14_17" for w in ("오후",)}, **{w: "h18_22" for w in ("저녁", "디너")},
    **{w: "h23_04" for w in ("밤늦", "심야", "새벽", "야간", "밤")},
}
HOUR_BANDS = (("h05_11", 5, 11), ("h12_13", 12, 13), ("h14_17", 14, 17), ("h18_22", 18, 22),
              ("h23_04", 23, 28))
LOW_WORDS = ("낮은", "낮고", "적은", "적고", "최저", "작은", "덜", "낮아", "적게", "가장낮",
             "제일낮")
HIGH_WORDS = ("높은", "높고", "많은", "많이", "최고", "큰", "높아", "가장높", "제일높", "1위")
KOREAN_NUMBERS = {"한": 1, "하나": 1, "두": 2, "둘": 2, "세": 3, "셋": 3, "석": 3, "네": 4, "넷": 4,
                  "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10}
_K = re.compile(r"(?:top|TOP|Top|상위|베스트|best)?\s*(\d+|" + "|".join(
    sorted(KOREAN_NUMBERS, key=len, reverse=True)) + r")\s*(?:곳|군데|개|집|위까지|군데만)")
_TOP_K = re.compile(r"(?:top|TOP|Top|베스트)\s*(\d+)")
_BAND = re.compile(r"(이용\s*건수|방문\s*건수|건수|이용\s*금액|매출|건당\s*평균\s*이용\s*금액"
                   r"|객단가)"
                   r"[^%\d]{0,8}?(상위|하위)?\s*(\d+)\s*(?:%|퍼센트)?\s*(?:[~-]\s*(\d+)\s*)?"
                   r"(?:%|퍼센트)")
_HOURS = re.compile(r"(오전|오후|밤|저녁|새벽)?\s*(\d{1,2})\s*시?\s*(?:~|-|부터|에서|～)\s*"
                    r"(\d{1,2})\s*시")
_HOUR = re.compile(r"(오전|오후|밤|저녁|새벽)?\s*(\d{1,2})\s*시")
# Follow-up and topic words (matched in the question with its spaces removed).
_RESTRICT = re.compile(r"(그|이|저|위)(중|가운데)(?!섭)|(그|이|저)(곳|집)들(중|가운데)"
                       r"|거기서|여기서|그결과")
_SAME_PLACE = re.compile(r"(같은|그|그쪽|이)(동네|지역)|같은(읍|면|동)(?!안)")
_ELSEWHERE = re.compile(r"(서울|부산|대구|인천|광주광역|대전|울산|세종|경기|강원|충청|전라|경상"
                        r"|강남|홍대|이태원|성수|전주|여수|경주|강릉|속초|도쿄|오사카)")
RECOMMEND_WORDS = ("추천", "맛집", "가볼만", "갈만한", "갈곳", "가고싶", "어디가", "데려갈",
                   "모시고")
FOOD_WORDS = ("맛집", "식당", "음식", "먹", "밥", "술", "커피", "카페", "디저트", "메뉴", "요리",
              "식사", "외식", "가게", "가맹점", "흑돼지", "고기", "횟집", "국수", "빵")
_UNKNOWN_PLACE = re.compile(r"([가-힣0-9]{1,8}(?:동|읍|면))(?=\s|$|에|의|에서|근처|쪽)")
_UNKNOWN_CATEGORY = re.compile(r"([가-힣A-Za-z]{1,12}(?:집|전문점|식당|가게))"
                               r"(?=\s|$|중|들|은|는|도|이|을|에)")


@dataclass
class ParsedQuestion:
    """The slots of one question. ``share`` is a Merchant property; ``filters`` are
    (band property, lowest rank, highest rank) with rank 1 = top 10%."""

    share: str
    descending: bool = True
    k: int = 1
    district: str | None = None
    city: str | None = None
    category: str | None = None
    filters: list[tuple[str, int, int]] = field(default_factory=list)
    among: list[int] | None = None  # a follow-up's "그 중": the previous answer's merchant ids
    attraction: str | None = None  # near it: its district and districts centred within radius
    radius_km: float = NEAR_RADIUS_KM

    def cypher(self) -> tuple[str, dict[str, Any]]:
        """The query (ties at the k-th value returned together) and its parameters. Near an
        attraction, ``share`` may be ``km``: nearest first, by the merchant's district centre."""
        pattern = "(m:Merchant)"
        where: list[str] = []
        params: dict[str, Any] = {}
        if self.among is not None:
            where.append("m.id IN $among")
            params["among"] = [int(i) for i in self.among]
        if self.attraction:
            pattern = ("(a:Attraction {name: $attraction})-[n:DISTANCE_TO]->(d:District)"
                       "<-[:IN_DISTRICT]-(m:Merchant)")
            where.append("(n.km <= $radius_km OR d.name = a.district)")
            params["attraction"], params["radius_km"] = self.attraction, float(self.radius_km)
        if self.district and self.attraction:
            where.append("d.name = $district")
            params["district"] = self.district
        elif self.district:
            pattern += "-[:IN_DISTRICT]->(d:District {name: $district})"
            params["district"] = self.district
        elif self.city:
            where.append("m.city = $city")
            params["city"] = self.city
        if self.category:
            pattern += ", (m)-[:OF_CATEGORY]->(c:Category {name: $category})"
            params["category"] = self.category
        for prop, low, high in self.filters:
            where.append(f"m.{prop} >= {int(low)} AND m.{prop} <= {int(high)}")
        match = f"MATCH {pattern}" + (f" WHERE {' AND '.join(where)}" if where else "")
        order, pick, compare = ("DESC", "min", ">=") if self.descending else ("ASC", "max", "<=")
        value = "n.km" if self.share == "km" else f"m.{self.share}"
        km = ", n.km AS km" if self.attraction else ""
        return (f"{match} WITH {value} AS v ORDER BY v {order} LIMIT {int(self.k)} "
                f"WITH {pick}(v) AS t {match}{' AND' if where else ' WHERE'} {value} {compare} t "
                f"RETURN m.id AS id, m.name AS name, {value} AS value, m.district AS district, "
                f"m.category AS category{km} ORDER BY value {order}, name"), params


@dataclass
class Reading:
    """What one question says, nothing assumed: None where it says nothing. A conversation
    fills the gaps from the previous turn (:mod:`.conversation`); :meth:`QuestionParser.parse`
    fills them with the defaults of a question on its own."""

    share: str | None = None  # a Merchant share property, or "tourist" (= lowest local share)
    low: bool | None = None  # a direction word said 낮은/적은 (True) or 높은/많은 (False)
    k: int | None = None
    district: str | None = None
    city: str | None = None
    category: str | None = None
    filters: list[tuple[str, int, int]] = field(default_factory=list)
    restrict: bool = False  # 그 중 / 이 중 / 거기서: among the previous answer
    same_place: bool = False  # 같은 동네 / 그 동네: keep the previous district
    recommend: bool = False  # 추천 / 맛집 / 가볼 만한: an open recommendation
    food: bool = False  # a word about eating or drinking
    elsewhere: str | None = None  # a place outside Jeju (서울, 부산 …)
    topic: str | None = None  # an unknown category word, kept when read with strict=False
    attraction: str | None = None  # 성산일출봉 근처: the attraction's name in the graph
    radius_km: float | None = None  # 3km 이내: the radius said, None for the default

    def resolved(self) -> tuple[str, bool] | None:
        """(share property, descending) or None without a share; 관광객 flips the direction;
        ``km`` (nearest first) is a question's share only when it names an attraction and no
        share."""
        if self.share == "km":
            return "km", False
        if self.share is None:
            return None
        if self.share == "tourist":  # 관광객 비중이 높은 = 현지인 비중이 낮은
            return "local_share", bool(self.low)
        return self.share, not self.low

    def wants_recommendation(self) -> bool:
        """An open recommendation: 추천/맛집/모시고 … with no share to rank by, or about a
        food the categories do not name (흑돼지집)."""
        return self.recommend and (self.share is None or self.topic is not None)

    def says_anything(self) -> bool:
        """Whether the question names any slot a follow-up could change."""
        return bool(self.share or self.low is not None or self.k or self.district or self.city
                    or self.category or self.filters or self.restrict or self.same_place
                    or self.attraction)


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _claim_at(compact: str, used: list[bool], aliases: Iterable[str]) -> tuple[str, int] | None:
    """The longest alias found in ``compact`` on characters no earlier claim used, and where;
    its characters are marked used."""
    for alias in sorted(aliases, key=len, reverse=True):
        start = compact.find(alias)
        while start >= 0:
            if not any(used[start:start + len(alias)]):
                used[start:start + len(alias)] = [True] * len(alias)
                return alias, start
            start = compact.find(alias, start + 1)
    return None


class QuestionParser:
    """Parses questions against the graph's districts (``제주시 애월읍``) and categories."""

    def __init__(self, districts: Iterable[str], categories: Iterable[str],
                 attractions: Iterable[dict[str, Any]] = ()):
        self.districts = sorted(districts)
        self.categories = sorted(categories)
        self._district_aliases = self._district_alias_table()
        self.attractions = Attractions(attractions, reserved=self._district_aliases)
        self._category_aliases: dict[str, str] = {}
        for category in self.categories:
            for alias in (category, *CATEGORY_SYNONYMS.get(category, ())):
                if alias != "차":  # 차 alone is a car as often as tea: only 찻집, 차전문점
                    self._category_aliases[_compact(alias)] = category

    @classmethod
    def from_graph(cls, store: GraphStore) -> QuestionParser:
        """A parser over the districts and categories the graph holds."""
        districts = [r["name"] for r in store.query("MATCH (d:District) RETURN d.name AS name")]
        categories = [r["name"] for r in store.query("MATCH (c:Category) RETURN c.name AS name")]
        attractions = store.query("MATCH (a:Attraction) RETURN a.name AS name, a.lat AS lat, "
                                  "a.lng AS lng")
        parser = cls(districts, categories, attractions)
        try:  # a graph built before schema 3 has no DISTANCE_TO edges
            store.query("MATCH ()-[n:DISTANCE_TO]->() RETURN n.km AS km LIMIT 1")
        except RuntimeError:
            parser.attractions.missing = "run `recstack chat build` (this graph predates it)"
        return parser

    def _district_alias_table(self) -> dict[str, list[str]]:
        """alias → districts: ``제주시애월읍``, ``애월읍``, ``애월``, digit forms of numbered
        dongs (``이도2동`` for 이도이동); a short form shared by two districts maps to both."""
        table: dict[str, list[str]] = {}
        digits = {"일": "1", "이": "2", "삼": "3"}
        for name in self.districts:
            dong = name.split(" ", 1)[1]
            forms = {_compact(name), dong}
            if len(dong) >= 3:
                forms.add(dong[:-1])  # 애월읍 → 애월, 중문동 → 중문
            if len(dong) >= 4 and dong[-2] in digits:
                forms.add(dong[:-2] + digits[dong[-2]] + dong[-1])  # 이도이동 → 이도2동
            for form in forms:
                table.setdefault(form, []).append(name)
        return table

    def parse(self, question: str) -> ParsedQuestion:
        """The slots of ``question``; a DataError naming what was not understood."""
        reading = self.read(question)
        resolved = reading.resolved()
        if resolved is None and reading.attraction:
            resolved = ("km", False)  # 한라산 가까운 식당: nearest first
        if resolved is None:
            raise DataError("the question names nothing to rank by", field="share",
                            fix="name an age (30대), gender (여성), 현지인/관광객, a weekday "
                                "(토요일) or a time (점심, 18시~22시)")
        return ParsedQuestion(share=resolved[0], descending=resolved[1], k=reading.k or 1,
                              district=reading.district, city=reading.city,
                              category=reading.category, filters=reading.filters,
                              attraction=reading.attraction,
                              radius_km=reading.radius_km or NEAR_RADIUS_KM)

    def read(self, question: str, *, strict: bool = True) -> Reading:
        """Every slot ``question`` names, nothing assumed; a DataError for a name that is not
        known (district, category), ambiguous (월평동) or out of range (k, band).

        With ``strict`` False an unknown category word (흑돼지집) is kept as the reading's
        ``topic`` instead: an open recommendation searches for it by meaning."""
        text = " ".join(question.split())
        compact = _compact(text).lower()  # cafe = CAFE; Korean has no case
        used = [False] * len(compact)
        filters, text_no_band = self._bands(text)
        restrict = bool(_RESTRICT.search(compact))
        same_place = bool(_SAME_PLACE.search(compact))
        near = self.attractions.find(text, used)  # before districts: 성산 in 성산일출봉
        district, city = self._district(compact, used)
        category, topic = self._category(compact, used, text, strict)
        elsewhere = _ELSEWHERE.search(compact)
        if district is None and elsewhere is None and near is None:
            self._check_unknown_place(text)
        share, low = self._share(text_no_band)
        return Reading(share=share, low=low, k=self._k(text_no_band), district=district,
                       city=city, category=category, filters=filters, restrict=restrict,
                       same_place=same_place,
                       recommend=any(w in compact for w in RECOMMEND_WORDS),
                       food=category is not None or topic is not None
                       or any(w in compact for w in FOOD_WORDS), topic=topic,
                       elsewhere=elsewhere.group(1) if elsewhere else None,
                       attraction=near.attraction if near else None,
                       radius_km=near.radius_km if near else None)

    def _claim(self, compact: str, used: list[bool], aliases: Iterable[str]) -> str | None:
        found = _claim_at(compact, used, aliases)
        return None if found is None else found[0]

    def _district(self, compact: str, used: list[bool]) -> tuple[str | None, str | None]:
        full = self._claim(compact, used, [a for a in self._district_aliases
                                           if a.startswith(("제주시", "서귀포시"))])
        # The city before the short names: 서귀 (서귀동) must not match inside 서귀포시.
        city_word = self._claim(compact, used, ("서귀포시", "제주시", "서귀포"))
        city = {"서귀포": "서귀포시"}.get(city_word or "", city_word)
        alias = full or self._claim(compact, used,
                                    [a for a in self._district_aliases if len(a) >= 2])
        if full:
            city = self._district_aliases[full][0].split(" ")[0]
        if alias is None:
            return None, city
        names = self._district_aliases[alias]
        if city is not None and len(names) > 1:
            names = [n for n in names if n.startswith(city)] or names
        if len(names) > 1:  # 이도2동 is a district of its own as well as 이도이동's digit form
            names = [n for n in names if alias in (_compact(n), n.split(" ")[1])] or names
        if len(names) > 1:
            raise DataError(f"{alias!r} names {len(names)} districts: {', '.join(names)}",
                            field="district", fix="say which, e.g. " + names[0])
        return names[0], names[0].split(" ")[0]

    def _category(self, compact: str, used: list[bool], text: str,
                  strict: bool = True) -> tuple[str | None, str | None]:
        alias = self._claim(compact, used, self._category_aliases)
        if alias is not None:
            return self._category_aliases[alias], None
        if "차" in self.categories and "차" in (strip_particle(t) for t in text.split()):
            return "차", None  # the category's own name as a word of its own (노형동 차 중 …)
        for match in _UNKNOWN_CATEGORY.finditer(text):
            word = strip_particle(match.group(1))
            if word not in ("맛집", "음식점", "식당", "가게", "전문점"):
                if not strict:
                    return None, word
                nearest = [n for n, _, _ in process.extract(word, list(self._category_aliases),
                                                            limit=3)]
                raise DataError(f"unknown category {word!r}", field="category",
                                fix="try one of: " + ", ".join(
                                    dict.fromkeys(self._category_aliases[n] for n in nearest)))
        return None, None

    def _check_unknown_place(self, text: str) -> None:
        for match in _UNKNOWN_PLACE.finditer(text):
            word = strip_particle(match.group(1))
            if len(word) >= 2 and word not in ("이동", "활동", "행동", "자동", "정동"):
                nearest = process.extract(word, self.districts, limit=3)
                raise DataError(f"unknown district {word!r}", field="district",
                                fix="known districts near that name: "
                                    + ", ".join(n for n, _, _ in nearest))

    def _bands(self, text: str) -> tuple[list[tuple[str, int, int]], str]:
        filters = []
        for match in _BAND.finditer(text):
            word = _compact(match.group(1))
            prop = ("avg_amt_band" if "건당" in word or "객단가" in word else
                    "amt_band" if "금액" in word or "매출" in word else "cnt_band")
            low_pct, high_pct = int(match.group(3)), match.group(4)
            if high_pct is not None:  # "10~25%": the bands between
                low, high = _band_rank(low_pct, "from"), _band_rank(int(high_pct), "to")
            elif match.group(2) == "하위":  # "하위 10%" = the last band(s)
                high, low = 6, _band_rank(100 - low_pct, "from")
            else:
                low, high = 1, _band_rank(low_pct, "to")
            filters.append((prop, low, high))
        return filters, _BAND.sub(" ", text)

    def _share(self, text: str) -> tuple[str | None, bool | None]:
        found: list[tuple[int, str]] = []
        # Hours first, and blanked out, so that 오후 in "오후 7시" is not read as 14시~17시.
        hours = list(_HOURS.finditer(text)) or list(_HOUR.finditer(text))
        for match in hours:
            found.append((len(_compact(text[:match.start()])),
                          _hour_band(int(match.group(2)), match.group(1))))
        for match in reversed(hours):
            text = text[:match.start()] + "#" * (match.end() - match.start()) + text[match.end():]
        compact = _compact(text)
        used = [False] * len(compact)
        while (claimed := _claim_at(compact, used, SHARE_WORDS)) is not None:
            found.append((claimed[1], SHARE_WORDS[claimed[0]]))
        low_at = min((compact.find(w) for w in LOW_WORDS if w in compact), default=None)
        high_at = min((compact.find(w) for w in HIGH_WORDS if w in compact), default=None)
        low = None if low_at is None and high_at is None else (
            low_at is not None and (high_at is None or low_at < high_at))
        if not found:
            return None, low
        distinct = {"local_share" if prop == "tourist" else prop for _, prop in found}
        if len(distinct) > 1:
            labels = ", ".join(SHARE_BY_PROP[p].label for p in sorted(distinct))
            raise DataError(f"the question ranks by {len(distinct)} shares at once ({labels}); "
                            "the data has each share separately", field="share",
                            fix="ask for one share at a time (e.g. 30대, then 여성)")
        # The share nearest before the direction word (이용건수 상위 10%에 속하고 현지인 … 높은)
        position = min((compact.find(w) for w in (*HIGH_WORDS, *LOW_WORDS) if w in compact),
                       default=len(compact))
        before = [f for f in found if f[0] < position] or found
        return max(before, key=lambda f: f[0])[1], low

    def _k(self, text: str) -> int | None:
        match = _TOP_K.search(text) or _K.search(text)
        if match is None:
            return None
        value = match.group(1)
        k = int(value) if value.isdigit() else KOREAN_NUMBERS[value]
        if not 1 <= k <= 50:
            raise DataError(f"cannot list {k} places", field="k", fix="ask for 1 to 50")
        return k


def _band_rank(percent: int, side: str) -> int:
    """The band whose upper bound is ``percent`` (side 'to'), or the band just past it
    (side 'from'); the bands end at 10, 25, 50, 75, 90 and 100 %."""
    if percent not in BAND_UPPER_PERCENT and not (side == "from" and percent == 0):
        raise DataError(f"{percent}% is not a usage-band boundary", field="band",
                        fix="the bands end at 10, 25, 50, 75 and 90 % (e.g. 상위 25% 이내)")
    if side == "from":
        return 1 if percent == 0 else BAND_UPPER_PERCENT.index(percent) + 2
    return BAND_UPPER_PERCENT.index(percent) + 1


def _hour_band(hour: int, qualifier: str | None) -> str:
    if qualifier in ("오후", "저녁", "밤") and hour < 12:
        hour += 12
    if hour < 5:
        hour += 24
    for prop, start, end in HOUR_BANDS:
        if start <= hour <= end:
            return prop
    return "h23_04"
