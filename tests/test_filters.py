"""One metadata filter semantics for every system: exact after normalising, AND, empty is empty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recstack.errors import DataError
from recstack.filters import MetadataFilter, filter_mask


@pytest.fixture()
def items() -> pd.DataFrame:
    return pd.DataFrame({
        "item_id": ["a", "b", "c", "d", "e"],
        "city": ["Osaka", " osaka ", "Osaka-shi", None, "ＯＳＡＫＡ"],
        "genres": ["Comedy|Drama", "Drama", "Comedy", "", "Children's|Comedy"],
        "year": [1995.0, 1995.0, np.nan, 2001.0, 1996.0],
        "open": [True, False, True, True, False],
    })


def _ids(items: pd.DataFrame, mask: np.ndarray) -> list[str]:
    return items.loc[mask, "item_id"].tolist()


def test_exact_match_ignores_case_spaces_and_width_but_not_prefixes(items):
    # "Osaka-shi" is another place; the full-width OSAKA is the same word (NFKC).
    assert _ids(items, filter_mask(items, {"city": "OSAKA "})) == ["a", "b", "e"]
    assert _ids(items, filter_mask(items, {"city": "osaka-SHI"})) == ["c"]
    assert _ids(items, filter_mask(items, {"city": "Osak"})) == []


def test_multi_valued_cells_match_any_of_their_values(items):
    assert _ids(items, filter_mask(items, {"genres": "comedy"})) == ["a", "c", "e"]
    assert _ids(items, filter_mask(items, {"genres": "children's"})) == ["e"]
    assert _ids(items, filter_mask(items, {"genres": "Comedy|Drama"})) == []


def test_numbers_compare_as_numbers_and_missing_never_matches(items):
    assert _ids(items, filter_mask(items, {"year": "1995"})) == ["a", "b"]
    assert _ids(items, filter_mask(items, {"year": 2001})) == ["d"]
    assert _ids(items, filter_mask(items, {"year": "nineties"})) == []
    assert _ids(items, filter_mask(items, {"year": "nan"})) == []
    assert _ids(items, filter_mask(items, {"city": "None"})) == []
    assert _ids(items, filter_mask(items, {"open": "true"})) == ["a", "c", "d"]


def test_filters_combine_with_and_and_no_match_is_an_empty_mask(items):
    both = filter_mask(items, {"city": "osaka", "genres": "drama"})
    assert _ids(items, both) == ["a", "b"]
    none = filter_mask(items, {"city": "Kyoto"})
    assert none.dtype == bool and none.shape == (5,) and not none.any()
    assert filter_mask(items, None).all() and filter_mask(items, {}).all()


def test_unknown_field_and_empty_value_name_the_filter(items):
    with pytest.raises(DataError) as err:
        filter_mask(items, {"planet": "Mars"})
    assert err.value.field == "filters.planet"
    assert "city, genres, year, open" in (err.value.fix or "")
    with pytest.raises(DataError) as err:
        filter_mask(items, {"city": "  "})
    assert err.value.field == "filters.city"
    # A column left out of ``fields`` cannot be filtered on, and item_id never can.
    for name in ("year", "item_id"):
        with pytest.raises(DataError, match=name):
            MetadataFilter(items, ["city"]).mask({name: "1995"})


def test_a_reused_filter_gives_fresh_masks_on_any_index(items):
    # Bundles keep one MetadataFilter; masks must not alias its cache, and a non-default
    # index (internal ids 1..n) must not shift rows.
    shifted = items.set_index(pd.RangeIndex(1, 6))
    metadata = MetadataFilter(shifted)
    first = metadata.mask({"city": "osaka"})
    first[:] = False
    assert metadata.mask({"city": "osaka"}).tolist() == [True, True, False, False, True]
