"""Treatment recommendation with honest uncertainty (e.g. lens size from eye measurements).

``TreatmentRecommender`` predicts the outcome of every option with a calibrated interval where
the data support that option (weighted split conformal) and partial-identification bounds where
they do not; ``simulate`` makes ICL patients with every potential outcome for evaluation.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ICL_SIZES_MM", "PREDICTION_COLUMNS", "SimulatedCohort", "TreatmentRecommender",
           "evaluate_cohort", "simulate"]
# Imported on first use: `recstack --help` must not pay for scikit-learn.
_HOMES = {"ICL_SIZES_MM": "simulator", "SimulatedCohort": "simulator", "simulate": "simulator",
          "PREDICTION_COLUMNS": "estimator", "TreatmentRecommender": "estimator",
          "evaluate_cohort": "evaluation"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'recstack.treatment' has no attribute {name!r}")
    return getattr(importlib.import_module(f"recstack.treatment.{_HOMES[name]}"), name)
