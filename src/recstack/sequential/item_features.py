"""Item metadata for the sequential recommenders, read from the feature store.

The catalogue's metadata (a product's city and category) is defined once as a feature view; the
recommenders train on, and serve with, the values the store holds, and the model records which
versioned features it used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from recstack.data.splits import Split
from recstack.errors import DataError
from recstack.settings import Settings

# The catalogue's product metadata as a feature view (``product_metadata``, keyed by item_id).
TRAVEL_DEFINITIONS = Path(__file__).parent / "feature_definitions" / "travel.yaml"


def item_metadata_from_store(item_ids: Sequence[str], features: Sequence[str],
                             settings: Settings) -> tuple[pd.DataFrame, list[str]]:
    """One row per item (indexed 1..n like ``SequenceDataset.item_metadata``), one column per
    feature, from the online store; and the versioned references read.

    Args:
        item_ids: external item ids, in internal-id order.
        features: ``view:feature`` references of a view keyed by ``item_id``.
    """
    from recstack.features.store import FeatureStore

    store = FeatureStore(settings)
    try:
        got = store.get_online_features([{"item_id": str(i)} for i in item_ids], list(features))
    finally:
        store.close()
    names = [ref.rsplit(":", 1)[1] for ref in got.features]
    frame = pd.DataFrame(got.rows, columns=["item_id", *names])
    missing = frame[names].isna().all(axis=1)
    if missing.any():
        raise DataError(f"{int(missing.sum())} of {len(frame)} items have no values in the "
                        f"feature store (first: {frame.loc[missing, 'item_id'].iloc[0]!r})",
                        field="item_features",
                        fix="publish the catalogue to the feature view and materialise it "
                            "(see docs/features.md, travel product metadata)")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame[names], list(got.features)


def with_store_metadata(split: Split, features: Sequence[str], settings: Settings
                        ) -> tuple[Split, list[str]]:
    """``split`` whose dataset carries item metadata from the feature store instead of files."""
    metadata, refs = item_metadata_from_store(
        [str(i) for i in split.dataset.item_ids], features, settings)
    return replace(split, dataset=replace(split.dataset, item_metadata=metadata)), refs


def publish_catalogue(products: pd.DataFrame, settings: Settings,
                      updated_at: pd.Timestamp | None = None) -> dict[str, int]:
    """Write the travel catalogue to the ``product_metadata`` view (``travel.yaml``), apply
    the definitions and materialise them; returns records written per view version."""
    from recstack.features.store import FeatureStore

    if "item_id" not in products.columns:
        raise DataError("the catalogue has no item_id column", field="item_id",
                        fix="pass the products frame of the travel data")
    stamp = updated_at if updated_at is not None else pd.Timestamp.now(tz="UTC").floor("s")
    store = FeatureStore(settings)
    try:
        store.write_source("travel_products", products.assign(
            item_id=products["item_id"].astype(str), updated_at=stamp))
        store.apply(TRAVEL_DEFINITIONS)
        return store.materialize(views=["product_metadata"])
    finally:
        store.close()
