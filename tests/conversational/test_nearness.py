"""Questions near a named attraction, on the graph built from the real data: the distances the
graph stores agree with the CSV's coordinates, answers agree with pandas, names are matched in
the forms people type, ambiguous and unknown names are handled politely, follow-ups work."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from recstack.errors import DataError

ATTRACTIONS = "jeju/jeju_attractions_geocoded.csv"


def _km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    a, b = math.radians(lat1), math.radians(lat2)
    cos = (math.sin(a) * math.sin(b)
           + math.cos(a) * math.cos(b) * math.cos(math.radians(lng2 - lng1)))
    return 6371.0 * math.acos(min(1.0, cos))


def _top(rows: pd.DataFrame, column: str, k: int = 1, descending: bool = True) -> set[str]:
    values = rows[column].sort_values(ascending=not descending)
    kth = values.iloc[min(k, len(values)) - 1]
    keep = values >= kth if descending else values <= kth
    return set(rows.loc[keep[keep].index, "가맹점명"].str.strip())


@pytest.fixture(scope="module")
def places(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / ATTRACTIONS, encoding="utf-8-sig")


def _near(store, attraction: str, radius: float = 5.0) -> dict[str, float]:
    rows = store.query("MATCH (a:Attraction {name: $a})-[n:DISTANCE_TO]->(d:District) "
                       "WHERE n.km <= $r OR d.name = a.district RETURN d.name AS d, n.km AS km",
                       {"a": attraction, "r": radius})
    return {r["d"]: r["km"] for r in rows}


def _in(merchants: pd.DataFrame, districts, category: str | None) -> pd.DataFrame:
    district = merchants["지역"].fillna("").str.split().str[1:3].str.join(" ")
    rows = merchants[district.isin(list(districts))]
    return rows if category is None else rows[rows["판매음식종류"] == category]


@pytest.fixture()
def asker(store, tmp_path):
    from recstack.conversational.ask import Asker

    made = Asker(store, threads_path=tmp_path / "threads.sqlite")
    yield made
    made.close()


def test_distances_agree_with_the_csv_coordinates(store, places):
    """DISTANCE_TO: the attraction's coordinates to the mean of a district's attractions."""
    row = places[places["AREA_NM"] == "협재해수욕장"].iloc[0]
    in_hallim = places[places["New_ADDR"].fillna("").str.contains("제주시 한림읍")
                       & places["lat"].notna()].drop_duplicates("AREA_NM")
    centre = in_hallim["lat"].mean(), in_hallim["lng"].mean()
    near = _near(store, "협재해수욕장")
    assert near["제주시 한림읍"] == pytest.approx(_km(row["lat"], row["lng"], *centre), abs=0.3)
    assert set(near) == {"제주시 한림읍"}  # 한경면's centre is 8.4 km away
    assert len(_near(store, "협재해수욕장", 10.0)) == 2


def test_a_share_near_an_attraction_matches_pandas(asker, store, merchants):
    answer = asker.ask("협재해수욕장 주변 카페 중 30대가 많이 가는 곳")
    expected = _top(_in(merchants, _near(store, "협재해수욕장"), "커피"), "30대고객수비중")
    assert set(answer.answer) == expected and answer.answer == ["벌크커피한림점"]
    assert "DISTANCE_TO" in answer.cypher and answer.params["attraction"] == "협재해수욕장"
    assert "협재해수욕장에서 약 2.4 km (동네 중심 기준)" in answer.reasons[0]
    assert "읍/면/동의 중심" in answer.message  # the distance basis, said honestly


def test_names_are_matched_as_people_type_them(asker):
    """Spacing, the data's parenthesis, generic endings, common names, a radius."""
    full = asker.parser.read("성산일출봉 근처 가정식 중 저녁 비중 높은 곳")
    assert full.attraction == "성산일출봉(UNESCO 세계자연유산)"
    assert full.district is None  # 성산 inside 성산일출봉 is not 성산읍
    for text in ("성산 일출봉 근처 카페", "일출봉 주변 카페"):
        assert asker.parser.read(text).attraction == full.attraction
    assert asker.parser.read("한라산 가까운 식당").attraction == "한라산국립공원"
    assert asker.parser.read("제주공항 근처 카페").attraction == "제주국제공항"
    assert asker.parser.read("협재 근처 카페").attraction == "협재해수욕장"  # 협재포구 1.4 km off
    said = asker.parser.read("천지연폭포에서 3km 이내 카페 중 여성")
    assert (said.attraction, said.radius_km) == ("천지연폭포", 3.0)
    assert asker.parser.read("애월 근처 카페 중 30대").district == "제주시 애월읍"
    assert asker.parser.read("노형동 카페 중 30대").attraction is None  # no nearness word


def test_nearest_first_without_a_share_returns_the_tied_district(asker, store, merchants):
    """Merchants have a district, not a point: all of the nearest district tie."""
    answer = asker.ask("한라산 가까운 식당 top 5")
    near = _near(store, "한라산국립공원")
    nearest = min(near, key=near.__getitem__)
    assert set(answer.answer) == set(_in(merchants, [nearest], None)["가맹점명"].str.strip())
    assert len(answer.answer) > 5 and answer.slots["share"] == "km"


def test_unknown_and_ambiguous_names(asker):
    with pytest.raises(DataError) as unknown:
        asker.ask("스타벅스 근처 카페 중 30대 비중 높은 곳")
    assert unknown.value.field == "attraction" and "known attractions" in unknown.value.fix
    declined = asker.ask("스타벅스 근처 카페 중 30대 비중 높은 곳", thread="u")
    assert declined.kind == "decline" and "관광지" in declined.message
    assert "1,353" in declined.message
    asked = asker.ask("붉은오름 근처 카페 중 30대 비중 높은 곳", thread="a")
    assert asked.kind == "clarify" and "붉은오름(표선면)" in asked.message
    settled = asker.ask("표선면", thread="a")
    assert settled.kind == "answer" and settled.params["attraction"] == "붉은오름(표선면)"
    assert "district" not in settled.params  # 표선면 named the attraction, not a filter
    with pytest.raises(DataError, match="no coordinates"):
        asker.ask("곽지해수욕장 근처 카페 중 30대")


def test_follow_ups_keep_the_attraction(asker, store, merchants):
    first = asker.ask("협재해수욕장 주변 카페 중 30대가 많이 가는 곳 3곳", thread="f")
    cafes = _in(merchants, _near(store, "협재해수욕장"), "커피")
    assert set(first.answer) == _top(cafes, "30대고객수비중", 3)
    evening = asker.ask("그 중 저녁은?", thread="f")
    assert set(evening.answer) == _top(cafes.loc[first.ids], "18시22시이용건수비중")
    assert evening.params["attraction"] == "협재해수욕장" and "협재해수욕장 근처" in evening.message
    moved = asker.ask("섭지코지 근처는?", thread="f")  # another attraction, same share
    assert set(moved.answer) == _top(_in(merchants, _near(store, "섭지코지"), "커피"),
                                     "18시22시이용건수비중")
    left = asker.ask("애월은?", thread="f")
    assert "attraction" not in left.params and left.params["district"] == "제주시 애월읍"


def test_the_ui_shows_a_distance_not_a_share(asker, store):
    from recstack.conversational.ui import answer_cards

    cards = answer_cards(store, asker.ask("한라산 가까운 식당 top 5"))
    assert cards and all(c.share_value is None and c.district == "제주시 해안동" for c in cards)
    assert "한라산국립공원에서 약 4.7 km" in cards[0].reason


def test_a_graph_built_before_the_distances_says_to_rebuild(tmp_path):
    from recstack.conversational.ask import Asker
    from recstack.conversational.graph import KuzuStore
    from recstack.conversational.schema import ddl

    old = KuzuStore(tmp_path / "old.kuzu", read_only=False)  # schema 2: no DISTANCE_TO
    for statement in ddl():
        if "DISTANCE_TO" not in statement:
            old.execute(statement)
    old.execute("CREATE (:District {name: '제주시 한림읍', city: '제주시', dong: '한림읍'})")
    old.execute("CREATE (:Attraction {name: '협재해수욕장', address: '', "
                "district: '제주시 한림읍', lat: 33.39, lng: 126.24})")
    with pytest.raises(DataError) as stale:
        Asker(old).ask("협재해수욕장 근처 카페 중 30대 비중 높은 곳")
    assert stale.value.field == "attraction" and "recstack chat build" in stale.value.fix
    old.close()
