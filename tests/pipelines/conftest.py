"""Small clinic data for the pipeline tests: a year of surgeries in the feature store."""

from __future__ import annotations

from pathlib import Path

import pytest

from recstack.settings import Settings

CLINIC_START = "2025-01-01"  # surgeries over 360 days from here; follow-ups 90 days later


def publish_clinic(home: Path, patients: int = 700) -> Path:
    """Measurements → the feature store of ``home``; label rows → ``home/labels.csv``."""
    from recstack.features.store import FeatureStore
    from recstack.treatment.feature_views import publish_cohort
    from recstack.treatment.simulator import simulate

    store = FeatureStore(Settings(home=home))
    try:
        labels = publish_cohort(store, simulate(patients, seed=3).factual, start=CLINIC_START,
                                seed=3)
    finally:
        store.close()
    path = home / "labels.csv"
    labels.to_csv(path, index=False)
    return path


@pytest.fixture()
def clinic(tmp_path: Path) -> tuple[Settings, Path]:
    home = tmp_path / "home"
    return Settings(home=home), publish_clinic(home)
