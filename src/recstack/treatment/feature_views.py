"""The lens-size recommender on the feature store: one definition of each measurement, read
point-in-time for training and from the online store for serving.

Training joins each surgery (the label row) to the newest measurement taken *before* it, so a
follow-up measurement taken after the lens was implanted can never leak into training; serving
reads the same view online, and the model records which view versions it was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recstack.errors import ConfigError, DataError, NotFoundError
from recstack.treatment.simulator import FEATURE_COLUMNS

if TYPE_CHECKING:
    from recstack.features.store import FeatureStore

ICL_VIEW = "icl_measurements"
ICL_DEFINITIONS = Path(__file__).parent / "feature_definitions" / "icl.yaml"
LABEL_TIMESTAMP = "event_timestamp"
FOLLOW_UP_DAYS = 90  # vault is measured about three months after surgery


def publish_cohort(store: FeatureStore, factual: pd.DataFrame, *, start: str | None = None,
                   days: int = 360, seed: int = 0) -> pd.DataFrame:
    """Write a simulated cohort's measurements to the store as a clinic would record them.

    Each patient is measured 1–30 days before surgery (the values the lens was sized from) and
    again at the follow-up, when the implanted lens makes the anterior chamber read shallower.
    Applies ``icl.yaml`` and returns the label rows: ``patient_id``, ``event_timestamp`` (the
    surgery), the size and the vault (known only at the follow-up). Surgeries spread over
    ``days`` from ``start`` (default: so that the last follow-up is today). The default 360
    days keeps every follow-up inside ``icl.yaml``'s one-year TTL with five days to spare: with
    365 the oldest ones expired during the day they were published, and serving answered 404
    for a few patients depending on the hour.
    """
    missing = [c for c in ["patient_id", *FEATURE_COLUMNS, "icl_size_mm", "vault_um"]
               if c not in factual.columns]
    if missing:
        raise DataError(f"column {missing[0]!r} is missing", field=missing[0],
                        fix="pass a cohort from recstack.treatment.simulator.simulate")
    rng = np.random.default_rng(seed)
    n = len(factual)
    first = (pd.Timestamp(start, tz="UTC") if start is not None else
             pd.Timestamp.now(tz="UTC").floor("D") - pd.Timedelta(days=days + FOLLOW_UP_DAYS))
    surgery = (first
               + pd.to_timedelta(rng.uniform(0, days * 86400, n).round(), unit="s"))
    before = surgery - pd.to_timedelta(rng.integers(1, 31, n), unit="D")
    after = surgery + pd.Timedelta(days=FOLLOW_UP_DAYS)
    pre_op = factual[["patient_id", *FEATURE_COLUMNS]].assign(measured_at=before,
                                                              recorded_at=before)
    post_op = pre_op.assign(measured_at=after, recorded_at=after,
                            acd_mm=(pre_op["acd_mm"] - 0.6).round(2))
    store.write_source(ICL_VIEW, pd.concat([pre_op, post_op], ignore_index=True))
    store.apply(ICL_DEFINITIONS)
    return pd.DataFrame({"patient_id": factual["patient_id"].to_numpy(),
                         LABEL_TIMESTAMP: surgery,
                         "icl_size_mm": factual["icl_size_mm"].to_numpy(),
                         "vault_um": factual["vault_um"].to_numpy()})


def expand_features(store: FeatureStore, features: Sequence[str]) -> list[str]:
    """``view:*`` becomes every feature of the view's active version; others pass through."""
    expanded: list[str] = []
    for ref in features:
        view, sep, name = ref.partition(":")
        if not sep:
            raise ConfigError(f"{ref!r} is not view:feature", field="store_features",
                              fix=f"write e.g. {ICL_VIEW}:acd_mm or {ICL_VIEW}:*")
        if name != "*":
            expanded.append(ref)
            continue
        active = [v for v in store.list_views() if v.name == view.split("@")[0]]
        if not active:
            raise NotFoundError(f"no feature view {view!r}", field="store_features",
                                fix="see `recstack features list`")
        expanded += [f"{view}:{f.name}" for f in active[0].view.features]
    return expanded


def training_frame(store: FeatureStore, labels: pd.DataFrame, features: Sequence[str]
                   ) -> tuple[pd.DataFrame, list[str]]:
    """Labels joined point-in-time to the store's features, and the exact (versioned) refs.

    Raises a DataError when a label row has no measurement before it: training must not
    silently fill in values the surgeon did not have.
    """
    if LABEL_TIMESTAMP not in labels.columns:
        raise DataError(f"the label table has no {LABEL_TIMESTAMP!r} column",
                        field=LABEL_TIMESTAMP,
                        fix="add the time of each treatment (the surgery) as event_timestamp")
    labels = labels.assign(**{LABEL_TIMESTAMP: pd.to_datetime(labels[LABEL_TIMESTAMP], utc=True)})
    refs = [r.resolved for r in store.resolve(list(features))]
    frame = store.get_training_frame(labels, refs)
    names = [ref.rsplit(":", 1)[1] for ref in refs]
    unmatched = frame[names].isna().any(axis=1)
    if unmatched.any():
        first = frame.loc[unmatched].iloc[0]
        raise DataError(f"{int(unmatched.sum())} label rows have no measurement before their "
                        f"event_timestamp (first: {first.get('patient_id', '?')})",
                        field="store_features",
                        fix="write the measurements to the feature store (or drop those rows)")
    return frame, refs


def online_features(store: FeatureStore, patient_id: str, refs: Sequence[str]
                    ) -> dict[str, float]:
    """One patient's current values of the features a model was trained on."""
    got = store.get_online_features([{"patient_id": patient_id}], list(refs))
    row = got.rows[0]
    names = [ref.rsplit(":", 1)[1] for ref in refs]
    missing = [n for n in names if row.get(n) is None]
    if missing:
        raise NotFoundError(f"no current value of {', '.join(missing)} for patient "
                            f"{patient_id!r} in the online store", field="patient_id",
                            fix="measure the patient (or materialise the feature store), or "
                                "send the measurements as 'features'")
    return {n: row[n] for n in names}
