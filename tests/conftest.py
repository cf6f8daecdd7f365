"""Fixtures shared across the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only shared data folder: $RECSTACK_DATA__SHARED_DIR, else ../shared/data."""
    configured = os.environ.get("RECSTACK_DATA__SHARED_DIR")
    root = Path(configured) if configured else (
        Path(__file__).resolve().parents[2] / "shared" / "data")
    if not root.is_dir():
        pytest.skip(f"shared data folder {root} not found (set RECSTACK_DATA__SHARED_DIR to it)")
    return root


@pytest.fixture()
def settings(tmp_path: Path):
    """Settings with an empty recstack home in a temporary folder."""
    from recstack.settings import Settings

    return Settings(home=tmp_path / "home")


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory):
    """A recstack home where a small travel set was generated and both baselines registered.

    Session-scoped: training and registering in MLflow take seconds, and several test modules
    read from the same registry without changing it.
    """
    from recstack.data.synthetic import TravelConfig, generate_travel
    from recstack.registry.models import ModelRegistry
    from recstack.sequential.pipeline import TrainConfig, train
    from recstack.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("trained") / "home")
    generate_travel(TravelConfig(n_users=300, n_products=120, n_countries=4, seed=1)).write(
        settings.data_home / "travel")
    versions = {}
    for model in ("popularity", "itemknn"):
        result = train(TrainConfig(model=model, dataset="travel", register_as="travel-next-item"),
                       settings, progress=False)
        versions[model] = result.version
    ModelRegistry(settings).promote("travel-next-item", versions["itemknn"].version, "champion")
    return settings, versions
