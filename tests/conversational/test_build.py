"""The graph holds the CSVs' rows and edges; a second build changes nothing."""

from __future__ import annotations

import pytest

from recstack.conversational.build import build_graph, split_address
from recstack.errors import NotFoundError
from recstack.settings import Settings


def test_every_row_and_edge_is_loaded(store, merchants):
    count = {label: store.query(f"MATCH (n:{label}) RETURN count(*) AS n")[0]["n"]
             for label in ("Merchant", "District", "Category", "Attraction")}
    assert count == {"Merchant": len(merchants), "District": 73,
                     "Category": merchants["판매음식종류"].nunique(), "Attraction": 1353}
    # One merchant has a blank address: no district to place it in.
    assert store.query("MATCH ()-[r:IN_DISTRICT]->() RETURN count(r) AS n")[0]["n"] == \
        len(merchants) - 1
    assert store.query("MATCH ()-[r:OF_CATEGORY]->() RETURN count(r) AS n")[0]["n"] == \
        len(merchants)


def test_a_merchant_keeps_its_csv_values(store, merchants):
    row = merchants[merchants["가맹점명"] == "협재해녀의집"].iloc[0]
    got = store.query("MATCH (m:Merchant {name: '협재해녀의집'})-[:IN_DISTRICT]->(d:District) "
                      "RETURN m.age30 AS age30, m.cnt_band AS cnt, m.local_share AS local, "
                      "m.opened AS opened, d.name AS district")[0]
    assert got["age30"] == row["30대고객수비중"]
    assert got["local"] == row["현지인이용비중"]
    assert got["cnt"] == int(row["이용건수"][0])
    assert got["opened"].strftime("%Y%m%d") == str(row["개설일자"])
    assert got["district"] == "제주시 한림읍"


def test_attractions_are_near_their_district(store):
    rows = store.query("MATCH (a:Attraction {name: '엉덩물계곡'})-[n:NEAR]->(d:District) "
                       "RETURN d.name AS district, n.distance_km AS km")
    assert rows[0]["district"] == "서귀포시 중문동" and 0 <= rows[0]["km"] < 5
    far = store.query("MATCH (:Attraction)-[n:NEAR]->() RETURN max(n.distance_km) AS km")
    assert far[0]["km"] < 30  # Jeju is 73 km wide: a district centre is never that far


def test_second_build_changes_nothing_and_force_rebuilds(chat_settings):
    again = build_graph(chat_settings)
    assert again.changed is False and again.counts == {}
    path = again.path
    stamp = path.stat().st_mtime_ns
    assert build_graph(chat_settings).changed is False
    assert path.stat().st_mtime_ns == stamp


def test_missing_shared_data_names_the_setting(tmp_path):
    settings = Settings(home=tmp_path / "home", data={"shared_dir": tmp_path / "nothing"})
    with pytest.raises(NotFoundError) as caught:
        build_graph(settings)
    assert caught.value.field == "data.shared_dir" and "RECSTACK_DATA__SHARED_DIR" in str(
        caught.value)


def test_split_address():
    assert split_address("제주 제주시 한림읍 협재리 1459-2번지") == ("제주시", "한림읍")
    assert split_address("제주특별자치도 서귀포시 중문동 2785-2") == ("서귀포시", "중문동")
    assert split_address(" ") == ("", "")
