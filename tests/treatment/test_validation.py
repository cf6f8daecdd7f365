"""The input checks' fast path (plain number columns) gives what the checking path gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recstack.errors import DataError
from recstack.treatment._validation import numeric_matrix


def test_number_columns_and_numeric_text_give_the_same_matrix():
    frame = pd.DataFrame({"age": [31, 45], "acd_mm": [3.2, 2.9], "note": ["a", "b"]})
    fast = numeric_matrix(frame, ["acd_mm", "age"])  # int and float columns, reordered
    as_text = numeric_matrix(frame.astype({"age": str, "acd_mm": str}), ["acd_mm", "age"])
    assert fast.dtype == np.float64 and fast.flags.c_contiguous
    assert np.array_equal(fast, np.array([[3.2, 31.0], [2.9, 45.0]]))
    assert np.array_equal(fast, as_text)


@pytest.mark.parametrize(("value", "words"), [
    (np.nan, "missing value"), (np.inf, "infinite"), ("old", "not numbers")])
def test_a_bad_value_still_names_its_column(value, words):
    frame = pd.DataFrame({"age": [31.0, 45.0], "acd_mm": [3.2, 2.9]})
    frame["acd_mm"] = frame["acd_mm"].astype(object) if isinstance(value, str) else frame["acd_mm"]
    frame.loc[1, "acd_mm"] = value
    with pytest.raises(DataError) as info:
        numeric_matrix(frame, ["age", "acd_mm"])
    assert info.value.field == "acd_mm" and words in info.value.message
