"""The Ditto-style cross-encoder: serialisation, and a matcher fitted on real Geo-ER pairs that
scores the same after saving and loading."""

from __future__ import annotations

import numpy as np
import pytest

from recstack.matching.data import Record
from recstack.matching.ditto import serialise


def test_records_are_serialised_as_ditto_writes_them():
    record = Record("Phipps Conservatory", 40.43901, -79.94712, address="1 Schenley Dr",
                    attributes={"phone": "412"})
    assert serialise(record) == ("COL name VAL Phipps Conservatory COL address VAL 1 Schenley Dr "
                                 "COL latitude VAL 40.4390 COL longitude VAL -79.9471 "
                                 "COL phone VAL 412")
    assert serialise(Record("부산역")) == "COL name VAL 부산역"


@pytest.mark.slow
def test_a_fitted_cross_encoder_saves_and_scores_the_same_after_loading(e5_home, geo_pairs,
                                                                        tmp_path):
    # A tiny budget (two steps): this checks the plumbing, not that it learns (see
    # docs/matching.md: a useful budget was not measured on the shared 2-core machine).
    from recstack.matching.ditto import DittoMatcher
    from recstack.matching.matchers import matcher_class

    valid = geo_pairs["valid"].subset(np.arange(64))
    matcher = DittoMatcher(max_train_pairs=32, max_length=48, e5_home=e5_home).fit(
        geo_pairs["train"], valid)
    test = geo_pairs["test"].subset(np.arange(40))
    proba = matcher.predict_proba(test)
    assert proba.shape == (40, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert matcher.describe()["train_pairs"] == 32 and 0 < matcher.valid_f1_ <= 1
    loaded = matcher_class("ditto").load(matcher.save(tmp_path / "ditto"))
    assert np.allclose(loaded.predict_proba(test), proba, atol=1e-5)
