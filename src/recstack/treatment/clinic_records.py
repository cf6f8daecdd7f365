"""Simulated eye-clinic records and their feature definitions (``clinic.yaml``).

``clinic_frames`` simulates what arrives at an eye clinic: patients measured at visits over a
year or two, some rows corrected later (same visit, later ``recorded_at``), some recorded late
and out of order. ``CLINIC_DEFINITIONS`` describes those frames as feature views (one eye's
measurements, one patient's profile); the feature store's worked example in docs/features.md
uses both. The lens-size recommender's own view (``icl.yaml``) is in
:mod:`recstack.treatment.feature_views`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CLINIC_DEFINITIONS = Path(__file__).parent / "feature_definitions" / "clinic.yaml"


def clinic_frames(n_patients: int = 200, *, start: str = "2024-01-01", days: int = 540,
                  correction_rate: float = 0.05, random_state: int = 0
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulated clinic data: ``(measurements, patients)``.

    measurements: ``patient_id``, ``eye`` (OD/OS), ``measured_at``, ``recorded_at`` (UTC),
    ``axial_length``, ``k1``, ``k2``, ``acd``, ``wtw``, ``sphere``; one row per eye and visit,
    plus corrected copies. patients: ``patient_id``, ``updated_at``, ``age``, ``sex``.
    """
    rng = np.random.default_rng(random_state)
    origin = pd.Timestamp(start, tz="UTC")
    ids = np.array([f"P{i:05d}" for i in range(n_patients)])
    visits = rng.integers(1, 5, n_patients)
    patient = np.repeat(np.arange(n_patients), visits * 2)
    eye = np.tile(["OD", "OS"], visits.sum())
    visit_day = np.repeat(rng.uniform(0, days, visits.sum()), 2)
    n = len(patient)
    base_al = rng.normal(24.0, 1.2, n_patients)[patient]
    base_k = rng.normal(43.5, 1.5, n_patients)[patient]
    measured = origin + pd.to_timedelta(visit_day * 86400, unit="s").round("s")
    # Most rows are recorded within hours; some a week late (batch uploads).
    delay_h = np.where(rng.random(n) < 0.1, rng.uniform(24, 24 * 7, n), rng.uniform(0, 4, n))
    frame = pd.DataFrame({
        "patient_id": ids[patient], "eye": eye, "measured_at": measured,
        "recorded_at": measured + pd.to_timedelta(delay_h * 3600, unit="s").round("s"),
        "axial_length": np.round(base_al + 0.02 * visit_day / 365 + rng.normal(0, .03, n), 2),
        "k1": np.round(base_k + rng.normal(0, .15, n), 2),
        "k2": np.round(base_k + np.abs(rng.normal(.8, .4, n)), 2),
        "acd": np.round(rng.normal(3.1, .3, n_patients)[patient] + rng.normal(0, .05, n), 2),
        "wtw": np.round(rng.normal(11.8, .4, n_patients)[patient] + rng.normal(0, .05, n), 2),
        "sphere": np.round(rng.normal(-3.0, 2.5, n_patients)[patient] * 4) / 4,
    })
    fixes = frame.sample(frac=correction_rate, random_state=random_state).copy()
    fixes["recorded_at"] += pd.Timedelta(days=2)
    fixes["axial_length"] = np.round(fixes["axial_length"] + rng.normal(0, .2, len(fixes)), 2)
    measurements = (pd.concat([frame, fixes]).sample(frac=1.0, random_state=random_state)
                    .reset_index(drop=True))  # arrival order is not time order
    patients = pd.DataFrame({
        "patient_id": ids, "updated_at": origin - pd.Timedelta(days=30),
        "age": rng.integers(20, 60, n_patients), "sex": rng.choice(["F", "M"], n_patients)})
    return measurements, patients

