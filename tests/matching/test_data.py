"""Pair files: real Geo-ER lines, other domains' attributes, and bad input naming the line."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from recstack.errors import DataError
from recstack.matching.data import parse_record, read_pairs, read_records

PLACE = ("COL name VAL Bellefield Presbyterian Church COL latitude VAL 40.44364 "
         "COL longitude VAL -79.95672 COL address VAL   COL postalCode VAL  ")
OTHER = ("COL name VAL Bellefield Church COL latitude VAL 40.4436 COL longitude VAL -79.9567 "
         "COL address VAL 4001 5th Ave, Thackery St COL postalCode VAL 15213 ")


def test_real_geo_er_lines_load_with_every_field(geo_pairs):
    train = geo_pairs["train"]
    assert len(train) == 800 and set(np.unique(train.labels)) == {0, 1}
    assert list(train.lines[:3]) == [0, 1, 2]
    first = train.left[0]
    assert first.name == "1909 McKee's Rocks Strike"
    assert first.lat == pytest.approx(40.4760582) and first.lon == pytest.approx(-80.0601889)
    assert first.address == "" and first.postal_code == ""  # blanks after VAL are unknown
    assert train.right[0].address == "Mckees Rocks Bridge, Route 65"
    assert train.right[0].postal_code == "15233"


def test_plain_text_without_labels_and_blank_lines_keep_line_indexes(tmp_path):
    path = tmp_path / "unlabelled.txt"
    path.write_text(f"{PLACE}\t{OTHER}\n\n{OTHER}\t{PLACE}\n")
    pairs = read_pairs(path)
    assert pairs.labels is None and list(pairs.lines) == [0, 2]
    with pytest.raises(DataError, match="no label column"):
        read_pairs(path, require_labels=True)


def test_records_of_other_domains_keep_their_attributes():
    product = parse_record("COL title VAL Sony MDR-7506 headphones COL price VAL 99.0 "
                           "COL manufacturer VAL Sony")
    assert product.name == "Sony MDR-7506 headphones" and product.lat is None
    assert product.attributes == {"price": "99.0", "manufacturer": "Sony"}
    untitled = parse_record("COL authors VAL A. Smith COL venue VAL VLDB")
    assert untitled.name == "A. Smith" and untitled.attributes == {"venue": "VLDB"}
    with pytest.raises(DataError, match="has no name"):
        parse_record("COL title VAL  COL price VAL 10")  # an empty title is not the price


@pytest.mark.parametrize(("text", "message"), [
    ("", "holds no pairs"),
    (f"{PLACE}\n", "line 1 has 1 tab-separated fields"),
    (f"{PLACE}\t{OTHER}\t1\n{PLACE}\tname Bellefield\t0\n", "line 2, second record does not "
                                                            "start with 'COL"),
    (f"{PLACE}\t{OTHER}\tyes\n", "line 1: the label is 'yes'"),
    (f"{PLACE}\t{OTHER}\t1\n{PLACE}\t{OTHER}\n", "line 2 lacks a label, unlike line 1"),
    (f"{PLACE}\tCOL name VAL  COL latitude VAL 1 COL longitude VAL 2\t1\n", "line 1, second "
                                                                            "record: the record "
                                                                            "has no name"),
    (f"{PLACE.replace('40.44364', '140.4')}\t{OTHER}\t1\n", r"latitude 140.4 is outside"),
    (f"{PLACE.replace('-79.95672', '-200')}\t{OTHER}\t1\n", r"longitude -200.0 is outside"),
    (f"{PLACE.replace('40.44364', 'north')}\t{OTHER}\t1\n", "latitude 'north' is not a number"),
])
def test_bad_files_name_the_line_and_the_fix(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as caught:
        read_pairs(path)
    assert caught.value.fix


def test_gzip_that_is_not_text_and_a_missing_file_are_data_errors(tmp_path):
    path = tmp_path / "binary.txt.gz"
    path.write_bytes(gzip.compress(bytes(range(256)) * 4))
    with pytest.raises(DataError, match="cannot be read as UTF-8"):
        read_pairs(path)
    with pytest.raises(DataError, match="no file at"):
        read_pairs(tmp_path / "absent.txt")


def test_record_tables_reject_duplicate_ids_and_nameless_rows(tmp_path):
    good = tmp_path / "places.csv"
    good.write_text("id,name,latitude,longitude\na,Bellefield Church,40.44,-79.95\n"
                    "b,Carnegie Station,,\n")
    ids, records = read_records(good)
    assert ids == ["a", "b"] and records[0].has_coordinates and not records[1].has_coordinates
    duplicate = tmp_path / "dup.csv"
    duplicate.write_text("id,name\na,One\na,Two\n")
    with pytest.raises(DataError, match="rows 2 and 3 share the id 'a'"):
        read_records(duplicate)
    nameless = tmp_path / "nameless.csv"
    nameless.write_text("id,name,latitude,longitude\na,,40.4,-79.9\n")
    with pytest.raises(DataError, match="row 2: the record has no name"):
        read_records(nameless)
