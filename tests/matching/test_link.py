"""Tables for `recstack match link`: the CSV columns, bad input named by field and row, and the
content hashes that incremental runs compare."""

from __future__ import annotations

import pytest

from recstack.errors import DataError
from recstack.matching.link import plan_requests, read_link_table

HEADER = "id,name,lat,lon,address\n"
ROWS = ("a1,Bellefield Presbyterian Church,40.44364,-79.95672,4001 5th Ave\n"
        "a2,Carnegie Station,40.4059,-80.0909,\n"
        "a3,Phipps Conservatory,,,1 Schenley Dr\n")
RIGHT = ROWS.replace("a1,", "b1,").replace("a2,", "b2,").replace("a3,", "b3,")


def _csv(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_ids_names_optional_coordinates_and_extra_columns(tmp_path):
    table = read_link_table(_csv(tmp_path, "id,name,lat,lon,address,phone\n"
                                           "a1,Bellefield Church,40.44,-79.95,4001 5th Ave,412\n"
                                           "a2,Phipps Conservatory,,,1 Schenley Dr,\n"))
    assert table.ids == ["a1", "a2"]
    first, second = table.records
    assert (first.lat, first.lon, first.address) == (40.44, -79.95, "4001 5th Ave")
    assert first.attributes == {"phone": "412"}
    assert not second.has_coordinates and second.address == "1 Schenley Dr"
    # coordinates are optional as columns too
    assert read_link_table(_csv(tmp_path, "id,name\nx,Somewhere\n", "n.csv")).ids == ["x"]


@pytest.mark.parametrize(("text", "field", "words"), [
    ("", "--left", "is empty"),
    ("   \n", "--left", "is empty"),
    ("id,name,lat,lon\n", "--left", "no records"),
    ("name,lat,lon\nChurch,40.4,-79.9\n", "id", "no 'id' column"),
    ("id,title\n1,Church\n", "name", "no 'name' column"),
    ("id,name,lat\n1,Church,40.4\n", "lon", "only one coordinate column"),
    (HEADER + "a1,Church,40.4,-79.9,\na1,Other,40.5,-79.9,\n", "id", "rows 2 and 3 share"),
    (HEADER + "a1,Church,40.4,-79.9,\n,Other,40.5,-79.9,\n", "id", "row 3 has an empty id"),
    (HEADER + "a1,Church,40.4,-79.9,\na2,Other,95.0,-79.9,\n", "lat", "row 3"),
    (HEADER + "a1,Church,40.4,-190.5,\n", "lon", "outside [-180, 180]"),
    (HEADER + "a1,Church,north,-79.9,\n", "lat", "is not a number"),
    (HEADER + "a1,,40.4,-79.9,\n", "name", "row 2: the record has no name"),
])
def test_bad_tables_name_the_field_the_row_and_the_fix(tmp_path, text, field, words):
    with pytest.raises(DataError) as caught:
        read_link_table(_csv(tmp_path, text), "--left")
    assert caught.value.field == field
    assert words in caught.value.message
    assert caught.value.fix


def test_a_missing_file_names_the_option(tmp_path):
    with pytest.raises(DataError) as caught:
        read_link_table(tmp_path / "nope.csv", "--right")
    assert caught.value.field == "--right"


def test_request_hashes_change_with_the_record_its_candidates_or_the_judge(tmp_path):
    left = read_link_table(_csv(tmp_path, HEADER + ROWS, "l.csv"))
    right = read_link_table(_csv(tmp_path, HEADER + RIGHT, "r.csv"))
    plans = list(plan_requests(left, right, context={"model": "m/1"}))
    assert [p["custom_id"] for p in plans] == ["a1", "a2", "a3"]
    assert all(p["candidates"] for p in plans)
    again = list(plan_requests(left, right, context={"model": "m/1"}))
    assert [p["hash"] for p in plans] == [p["hash"] for p in again]

    changed = read_link_table(_csv(tmp_path, HEADER + ROWS.replace("Carnegie Station",
                                                                   "Carnegie Stn"), "l2.csv"))
    moved = [p["hash"] for p in plan_requests(changed, right, context={"model": "m/1"})]
    assert [a == b for a, b in zip(moved, [p["hash"] for p in plans], strict=True)] == \
        [True, False, True]
    other_model = [p["hash"] for p in plan_requests(left, right, context={"model": "m/2"})]
    assert not set(other_model) & {p["hash"] for p in plans}
    # a changed candidate changes the requests that see it
    right2 = read_link_table(_csv(tmp_path, HEADER + RIGHT.replace(
        "Phipps Conservatory", "Phipps Conservatory & Gardens"), "r2.csv"))
    seen = [p for p in plans if 2 in p["candidates"]]
    rehashed = {p["custom_id"]: p["hash"] for p in plan_requests(left, right2,
                                                                 context={"model": "m/1"})}
    assert seen and all(rehashed[p["custom_id"]] != p["hash"] for p in seen)
