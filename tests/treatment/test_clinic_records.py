"""The simulated clinic records and ``clinic.yaml`` (docs/features.md's worked example)."""

from __future__ import annotations

import pandas as pd
import pytest

from recstack.features import FeatureStore
from recstack.treatment.clinic_records import CLINIC_DEFINITIONS, clinic_frames


def test_clinic_simulation_has_corrections_and_late_rows():
    measurements, patients = clinic_frames(60, random_state=7)
    visit = ["patient_id", "eye", "measured_at"]
    assert measurements.duplicated(visit).any()  # corrected rows share the visit
    assert (measurements["recorded_at"] - measurements["measured_at"]).max() > pd.Timedelta("1D")
    assert not measurements["measured_at"].is_monotonic_increasing  # arrival is not time order
    assert set(measurements["patient_id"]) <= set(patients["patient_id"])


def test_clinic_definitions_read_the_newest_corrected_measurement_per_eye(settings):
    measurements, patients = clinic_frames(30, random_state=3)
    store = FeatureStore(settings)
    store.write_source("clinic_measurements", measurements)
    store.write_source("clinic_patients", patients)
    store.apply(CLINIC_DEFINITIONS)
    asked = measurements.sample(20, random_state=0)[["patient_id", "eye", "measured_at"]]
    asked = asked.rename(columns={"measured_at": "event_timestamp"})
    frame = store.get_training_frame(asked, ["eye_measurements:axial_length",
                                             "eye_measurements:mean_k", "patient_profile:age"],
                                     full_names=True)
    for (_, row), (_, out) in zip(asked.iterrows(), frame.iterrows(), strict=True):
        same = measurements[(measurements.patient_id == row.patient_id)
                            & (measurements.eye == row.eye)
                            & (measurements.measured_at <= row.event_timestamp)]
        best = same.sort_values(["measured_at", "recorded_at"]).iloc[-1]
        assert out["eye_measurements__axial_length"] == best["axial_length"]
        assert out["eye_measurements__mean_k"] == pytest.approx((best.k1 + best.k2) / 2)
        age = patients.set_index("patient_id").loc[row.patient_id, "age"]
        assert out["patient_profile__age"] == age
