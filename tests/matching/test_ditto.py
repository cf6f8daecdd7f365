"""The Ditto-style cross-encoder: serialisation, and a short fit on real Geo-ER pairs that learns
(it beats the all-match answer on held-out pairs) and scores the same after saving and loading."""

from __future__ import annotations

import numpy as np
import pytest

from recstack.errors import ConfigError
from recstack.matching.data import Record
from recstack.matching.ditto import serialise, serialise_pair


def test_records_are_serialised_as_ditto_writes_them():
    record = Record("Phipps Conservatory", 40.43901, -79.94712, address="1 Schenley Dr",
                    attributes={"phone": "412"})
    assert serialise(record) == ("COL name VAL Phipps Conservatory COL address VAL 1 Schenley Dr "
                                 "COL latitude VAL 40.4390 COL longitude VAL -79.9471 "
                                 "COL phone VAL 412")
    assert serialise(Record("부산역")) == "COL name VAL 부산역"


def test_a_pair_with_coordinates_reads_their_distance_instead():
    phipps = Record("Phipps Conservatory", 40.43901, -79.94712)
    near = Record("Phipps Conservatory and Botanical Gardens", 40.4382, -79.9475)
    left, right = serialise_pair(phipps, near)
    assert left == "COL distance VAL 96 m COL name VAL Phipps Conservatory"
    assert right == "COL name VAL Phipps Conservatory and Botanical Gardens"
    far = Record("Phipps", 40.0, -80.0)
    assert serialise_pair(phipps, far)[0].startswith("COL distance VAL 49 km ")
    # Without coordinates on one side, or with distance off: Ditto's plain serialisation.
    assert serialise_pair(phipps, Record("Phipps")) == (serialise(phipps), "COL name VAL Phipps")
    assert serialise_pair(phipps, near, distance=False) == (serialise(phipps), serialise(near))


def test_an_unknown_pooling_is_a_config_error():
    from recstack.matching.ditto import DittoMatcher

    with pytest.raises(ConfigError, match="use one of: cls, mean"):
        DittoMatcher(pooling="max")


@pytest.mark.slow
def test_a_short_fit_learns_and_scores_the_same_after_loading(e5_home, geo_pairs, tmp_path):
    # The first version fitted this way (head on [CLS], 5e-5, one epoch) called every held-out
    # pair a match. 320 pairs x 2 epochs (40 steps) must clearly beat that answer.
    from sklearn.metrics import f1_score, roc_auc_score

    from recstack.matching.ditto import DittoMatcher
    from recstack.matching.matchers import matcher_class

    matcher = DittoMatcher(max_train_pairs=320, epochs=2, e5_home=e5_home).fit(
        geo_pairs["train"], geo_pairs["valid"].subset(np.arange(200)))
    first, last = matcher.describe()["train_loss_first_last"]
    assert last < 0.8 * first, f"the training loss did not fall: {first:.3f} → {last:.3f}"
    test = geo_pairs["test"]  # 400 held-out pairs, never seen in training or validation
    proba = matcher.predict_proba(test)
    assert proba.shape == (len(test), 2) and np.allclose(proba.sum(axis=1), 1.0)
    all_match_f1 = f1_score(test.labels, np.ones(len(test)))
    assert roc_auc_score(test.labels, proba[:, 1]) > 0.85
    assert f1_score(test.labels, proba[:, 1] >= 0.5) > all_match_f1 + 0.2
    loaded = matcher_class("ditto").load(matcher.save(tmp_path / "ditto"))
    assert np.allclose(loaded.predict_proba(test.subset(np.arange(40))), proba[:40], atol=1e-5)
