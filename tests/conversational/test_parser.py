"""Questions → slots, on small hand-made lists of districts and categories."""

from __future__ import annotations

import pytest

from recstack.conversational.parser import QuestionParser
from recstack.errors import DataError

DISTRICTS = ["제주시 한림읍", "제주시 노형동", "제주시 애월읍", "제주시 연동", "제주시 이도이동",
             "제주시 이도2동", "서귀포시 중문동", "서귀포시 서귀동", "제주시 월평동",
             "서귀포시 월평동"]
CATEGORIES = ["커피", "단품요리 전문", "일식", "치킨", "베이커리", "분식", "중식", "가정식",
              "맥주/요리주점", "차"]


@pytest.fixture(scope="module")
def parser() -> QuestionParser:
    return QuestionParser(DISTRICTS, CATEGORIES)


def test_contest_questions(parser):
    first = parser.parse("제주시 한림읍에 있는 카페 중 30대 이용 비중이 가장 높은 곳은?")
    assert (first.district, first.category, first.share, first.descending, first.k) == (
        "제주시 한림읍", "커피", "age30", True, 1)
    second = parser.parse("제주시 노형동에 있는 단품요리 전문점 중 이용건수가 상위 10%에 속하고 "
                          "현지인 이용 비중이 가장 높은 곳은?")
    assert (second.district, second.category, second.share) == (
        "제주시 노형동", "단품요리 전문", "local_share")
    assert second.filters == [("cnt_band", 1, 1)]


@pytest.mark.parametrize(("question", "district"), [
    ("중문 카페 30대", "서귀포시 중문동"), ("중문동 카페 30대", "서귀포시 중문동"),
    ("애월 카페 30대", "제주시 애월읍"), ("애월읍에 있는 카페 30대", "제주시 애월읍"),
    ("제주시애월읍 카페 30대", "제주시 애월읍"), ("이도2동 카페 30대", "제주시 이도2동"),
    ("서귀포시 월평동 카페 30대", "서귀포시 월평동"), ("서귀동 카페 30대", "서귀포시 서귀동"),
    ("연동 카페 30대", "제주시 연동"),
])
def test_districts_with_or_without_city_and_suffix(parser, question, district):
    assert parser.parse(question).district == district


@pytest.mark.parametrize(("word", "category"), [
    ("카페", "커피"), ("커피숍", "커피"), ("일식집", "일식"), ("단품요리 전문점", "단품요리 전문"),
    ("단품요리전문점", "단품요리 전문"), ("치킨집", "치킨"), ("빵집", "베이커리"),
    ("분식집", "분식"), ("중식당", "중식"), ("중국집", "중식"), ("술집", "맥주/요리주점"),
    ("찻집", "차"), ("차", "차"),
])
def test_category_synonyms(parser, word, category):
    assert parser.parse(f"노형동 {word} 중 30대 비중 높은 곳").category == category


@pytest.mark.parametrize(("phrase", "share", "descending"), [
    ("20대이하", "age20", True), ("20대 이하", "age20", True), ("60대 이상", "age60", True),
    ("여성", "female", True), ("남자 손님", "male", True), ("현지인", "local_share", True),
    ("관광객", "local_share", False), ("토요일", "sat", True), ("아침", "h05_11", True),
    ("점심", "h12_13", True), ("저녁", "h18_22", True), ("새벽", "h23_04", True),
    ("5시~11시", "h05_11", True), ("18시부터 22시", "h18_22", True),
    ("오후 7시", "h18_22", True), ("오후", "h14_17", True), ("저녁 6시~10시", "h18_22", True),
])
def test_shares(parser, phrase, share, descending):
    parsed = parser.parse(f"연동 카페 중 {phrase} 비중이 가장 높은 곳")
    assert (parsed.share, parsed.descending) == (share, descending)


def test_direction_and_tourists(parser):
    assert parser.parse("연동 카페 중 30대 비중이 가장 낮은 곳").descending is False
    assert parser.parse("연동 카페 중 관광객이 많이 가는 곳").descending is False
    assert parser.parse("연동 카페 중 관광객 비중이 가장 낮은 곳").descending is True


@pytest.mark.parametrize(("phrase", "k"), [
    ("곳은?", 1), ("두 곳", 2), ("3곳", 3), ("상위 5곳", 5), ("세 군데", 3), ("top 4", 4),
    ("다섯 곳", 5),
])
def test_how_many(parser, phrase, k):
    assert parser.parse(f"연동 카페 중 30대 비중 높은 {phrase}").k == k


@pytest.mark.parametrize(("phrase", "band"), [
    ("이용건수 상위 10% 이내", ("cnt_band", 1, 1)),
    ("이용금액이 상위 25%에 속하는", ("amt_band", 1, 2)),
    ("이용 건수가 상위 50% 안에 드는", ("cnt_band", 1, 3)),
    ("매출 하위 10%", ("amt_band", 6, 6)),
    ("이용건수 10~25%", ("cnt_band", 2, 2)),
])
def test_usage_bands(parser, phrase, band):
    parsed = parser.parse(f"연동 카페 중 {phrase} 30대 비중 높은 곳")
    assert parsed.filters == [band] and parsed.share == "age30"


@pytest.mark.parametrize(("question", "field", "names"), [
    ("제주시 가나동 카페 중 30대 비중 높은 곳", "district", "unknown district '가나동'"),
    ("노형동 라멘집 중 30대 비중 높은 곳", "category", "unknown category '라멘집'"),
    ("월평동 카페 30대", "district", "제주시 월평동"),
    ("연동 카페 추천해줘", "share", "nothing to rank by"),
    ("연동 카페 중 이용건수 상위 20% 30대", "band", "20%"),
    ("연동 카페 중 30대 비중 높은 100곳", "k", "100"),
    ("30대 여성이 많이 가는 연동 카페", "share", "2 shares"),
])
def test_what_was_not_understood_is_named(parser, question, field, names):
    with pytest.raises(DataError) as caught:
        parser.parse(question)
    assert caught.value.field == field and names in str(caught.value)
    assert caught.value.fix


def test_a_city_alone_filters_by_city(parser):
    parsed = parser.parse("서귀포시 카페 중 30대 비중이 가장 높은 곳")  # not 서귀동
    assert (parsed.district, parsed.city) == (None, "서귀포시")
    assert "m.city = $city" in parsed.cypher()[0]
    assert parser.parse("서귀포 서귀동 카페 30대").district == "서귀포시 서귀동"


def test_unknown_district_suggests_the_nearest(parser):
    with pytest.raises(DataError) as caught:
        parser.parse("노향동 카페 30대")
    assert "제주시 노형동" in (caught.value.fix or "")


def test_a_count_of_places_is_not_a_band(parser):
    parsed = parser.parse("연동 카페 중 이용건수 상위 3곳 30대")
    assert parsed.filters == [] and parsed.k == 3
