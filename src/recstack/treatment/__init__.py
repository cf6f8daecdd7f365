"""Treatment recommendation with honest uncertainty (e.g. lens size from eye measurements).

``TreatmentRecommender`` predicts the outcome of every option with a calibrated interval where
the data support that option (weighted split conformal) and partial-identification bounds where
they do not; ``simulate`` makes ICL patients with every potential outcome for evaluation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recstack._lazy import lazy_exports

# ruff: noqa: F401 - these imports are the re-exports, for type checkers; ruff cannot read
# the __all__ that lazy_exports computes.
if TYPE_CHECKING:
    from recstack.treatment.estimator import PREDICTION_COLUMNS, TreatmentRecommender
    from recstack.treatment.evaluation import evaluate_cohort
    from recstack.treatment.simulator import ICL_SIZES_MM, SimulatedCohort, simulate

# Imported on first use: `recstack --help` must not pay for scikit-learn.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "estimator": ["PREDICTION_COLUMNS", "TreatmentRecommender"],
    "evaluation": ["evaluate_cohort"],
    "simulator": ["ICL_SIZES_MM", "SimulatedCohort", "simulate"],
})
