"""Place matching: whether two records (names, coordinates, addresses, other attributes) are
the same place or entity.

Read pair files (:func:`read_pairs`), block candidates when linking two tables (:func:`block`),
fit a matcher (``thresholds`` or ``gbm``, :func:`matcher_class`) and register it
(:mod:`recstack.matching.pipeline`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recstack._lazy import lazy_exports

# ruff: noqa: F401 - these imports are the re-exports, for type checkers; ruff cannot read
# the __all__ that lazy_exports computes.
if TYPE_CHECKING:
    from recstack.matching.blocking import (
        BlockingConfig,
        block,
        blocking_recall,
        register_blocker,
    )
    from recstack.matching.bundle import MatchBundle
    from recstack.matching.data import PairSet, Record, read_pairs, read_records
    from recstack.matching.features import PairFeaturizer
    from recstack.matching.matchers import (
        GBMMatcher,
        ThresholdMatcher,
        matcher_class,
        matcher_names,
        register_matcher,
    )

# Imported on first use: `recstack --help` must not pay for rapidfuzz or scikit-learn.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "blocking": ["BlockingConfig", "block", "blocking_recall", "register_blocker"],
    "bundle": ["MatchBundle"],
    "data": ["PairSet", "Record", "read_pairs", "read_records"],
    "features": ["PairFeaturizer"],
    "matchers": ["GBMMatcher", "ThresholdMatcher", "matcher_class", "matcher_names",
                 "register_matcher"],
})
