"""A recstack home with one registered ICL treatment model, shared by the pipeline/API tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def treatment_home(tmp_path_factory: pytest.TempPathFactory):
    """Settings, data folder and fit result after `fit` on 1,200 simulated patients."""
    from recstack.settings import Settings
    from recstack.treatment.pipeline import FitConfig, fit
    from recstack.treatment.simulator import simulate

    root = tmp_path_factory.mktemp("treatment")
    settings = Settings(home=root / "home")
    simulate(1200, seed=21).factual.to_csv(root / "train.csv", index=False)
    test = simulate(60, seed=22)
    test.factual.to_csv(root / "test.csv", index=False)
    potential = test.potential.copy()
    potential.insert(0, "patient_id", test.factual["patient_id"])
    potential.to_csv(root / "potential.csv", index=False)
    result = fit(FitConfig(data=Path(root / "train.csv")), settings)
    return settings, root, result
