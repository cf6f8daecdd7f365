"""Simulated ICL (implantable collamer lens) patients with every potential outcome.

Facts the simulator is built on (literature values, rounded):

- ICL sizes 12.1, 12.6, 13.2 and 13.7 mm; one size step (about 0.5 mm) raises the vault by about
  330 µm (≈ 660 µm per mm of size).
- Observed postoperative vault about 500 ± 180 µm; safe range 250–750 µm.
- Crystalline lens rise (CLR) 68 ± 151 µm; a higher CLR pushes the lens forward and lowers the
  vault. Anterior chamber depth (ACD) about 3.2 ± 0.28 mm, lens thickness about 3.7 mm and
  growing with age, white-to-white (WTW) about 11.7 mm, angle-to-angle (ATA) about 11.9 mm.
- Surgeons size the lens from WTW and ACD (the manufacturer's nomogram) and follow it
  imperfectly; WTW is only a proxy for the sulcus width that actually determines the vault.

The outcome model is a stylised one, not a clinical model: it is monotone in size (a larger lens
never vaults less), with a patient-specific slope. ``simulate`` returns what a clinic would record
(``factual``) and, for evaluation only, every potential vault (``potential``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recstack.errors import ConfigError

ICL_SIZES_MM = (12.1, 12.6, 13.2, 13.7)
FEATURE_COLUMNS = ["age", "sphere_d", "ata_mm", "wtw_mm", "acd_mm", "lens_thickness_mm",
                   "clr_um"]
# Values outside these ranges are not human eyes (or not ICL candidates); used to validate input.
PHYSIOLOGICAL_RANGES: dict[str, tuple[float, float]] = {
    "age": (18.0, 90.0), "sphere_d": (-30.0, 15.0), "ata_mm": (9.0, 15.0),
    "wtw_mm": (9.0, 15.0), "acd_mm": (1.5, 5.0), "lens_thickness_mm": (2.5, 6.5),
    "clr_um": (-1000.0, 1500.0), "icl_size_mm": (11.0, 15.0), "vault_um": (0.0, 3000.0)}
TARGET_RANGE_UM = (250.0, 750.0)
_SLOPE_UM_PER_MM = 660.0  # ≈ 330 µm per 0.5-mm step
_IDEAL_OVERSIZE_MM = 0.8  # the size that vaults 500 µm is about ATA + 0.8 mm


@dataclass
class SimulatedCohort:
    """Factual data as a clinic records it, plus every potential vault (evaluation only)."""

    factual: pd.DataFrame
    potential: pd.DataFrame
    feature_columns: list[str] = field(default_factory=lambda: list(FEATURE_COLUMNS))
    policy: str = "nomogram"
    seed: int = 0

    @property
    def options(self) -> list[float]:
        return [float(c) for c in self.potential.columns]


def _nearest_size(size_mm: np.ndarray) -> np.ndarray:
    """Index of the available size closest to each wanted size."""
    sizes = np.asarray(ICL_SIZES_MM)
    return np.abs(size_mm[:, None] - sizes[None, :]).argmin(axis=1)


def _nomogram(recorded: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """WTW/ACD nomogram: size up with WTW, one step larger in deep chambers; 25% deviate."""
    wanted = recorded["wtw_mm"].to_numpy() + 1.0 + 0.2 * (recorded["acd_mm"].to_numpy() >= 3.5)
    return _deviate(_nearest_size(wanted), rng, share=0.2)


def _ata_based(recorded: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Sizing from the measured ATA (sulcus proxy); 15% of surgeons deviate by one size."""
    wanted = recorded["ata_mm"].to_numpy() + _IDEAL_OVERSIZE_MM
    return _deviate(_nearest_size(wanted), rng, share=0.15)


def _random(recorded: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """A randomised trial: every size equally likely."""
    return rng.integers(0, len(ICL_SIZES_MM), size=len(recorded))


def _deviate(index: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """Move ``share`` of the choices one size up or down (surgeons' judgement)."""
    step = rng.choice([-1, 1], size=len(index)) * (rng.random(len(index)) < share)
    return np.clip(index + step, 0, len(ICL_SIZES_MM) - 1)


POLICIES: dict[str, Callable[[pd.DataFrame, np.random.Generator], np.ndarray]] = {
    "nomogram": _nomogram, "ata": _ata_based, "random": _random}


def _anatomy(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """True eye measurements of ``n`` ICL candidates (myopic adults)."""
    age = np.clip(rng.normal(33.0, 7.0, n), 20.0, 55.0)
    ata = rng.normal(11.9, 0.45, n)
    acd = rng.normal(3.2, 0.28, n) - 0.01 * (age - 33.0)
    lens = rng.normal(3.7, 0.2, n) + 0.02 * (age - 33.0)
    z_acd, z_lens = (acd - 3.2) / 0.28, (lens - 3.7) / 0.2
    clr = 68.0 + 151.0 * (0.5 * z_lens - 0.5 * z_acd + 0.6 * rng.normal(size=n))
    return pd.DataFrame({
        "age": age.round(0), "sphere_d": np.clip(rng.normal(-9.0, 3.0, n), -20.0, -1.0).round(2),
        "ata_mm": ata, "wtw_mm": ata - 0.2 + rng.normal(0.0, 0.25, n), "acd_mm": acd,
        "lens_thickness_mm": lens, "clr_um": clr})


def potential_vaults(anatomy: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Vault (µm) for every size; monotone in size with a patient-specific slope."""
    n = len(anatomy)
    z_acd = ((anatomy["acd_mm"] - 3.2) / 0.28).to_numpy()
    slope = _SLOPE_UM_PER_MM * np.clip(1.0 + 0.12 * z_acd, 0.6, 1.4)
    ideal = anatomy["ata_mm"].to_numpy() + _IDEAL_OVERSIZE_MM
    base = (500.0 - 0.6 * (anatomy["clr_um"].to_numpy() - 68.0)
            - 2.0 * (anatomy["age"].to_numpy() - 33.0) + rng.normal(0.0, 60.0, n))
    columns = {}
    for size in ICL_SIZES_MM:
        over = size - ideal
        # Oversizing compresses a little more than linearly (the lens arches); still monotone.
        columns[size] = base + slope * over + 40.0 * np.clip(over, 0, None) ** 2 \
            + rng.normal(0.0, 20.0, n)
    frame = pd.DataFrame(columns, index=anatomy.index)
    # Per-size noise must not break monotonicity (the assumption the bounds rely on).
    # A vault cannot be negative: the lens then rests on the crystalline lens (0 µm).
    frame[:] = np.clip(np.maximum.accumulate(frame.to_numpy(), axis=1), 0.0, None)
    return frame


def simulate(n_patients: int, *, policy: str = "nomogram", seed: int = 0,
             measurement_bias: dict[str, float] | None = None) -> SimulatedCohort:
    """Simulate ``n_patients`` ICL patients under an assignment ``policy``.

    Args:
        n_patients: number of patients (one eye each).
        policy: how surgeons choose the size: "nomogram" (WTW/ACD, followed imperfectly), "ata"
            (from the measured ATA) or "random" (a randomised trial).
        seed: random seed; the same seed gives the same cohort.
        measurement_bias: constants added to *recorded* measurement columns (a device that reads
            ACD 0.3 mm deeper: ``{"acd_mm": 0.3}``); the true anatomy, which drives the vault,
            is unchanged. Surgeons size from the recorded values.

    Returns:
        The factual table and every potential vault (columns are the sizes as floats).
    """
    if policy not in POLICIES:
        raise ConfigError(f"unknown policy {policy!r}", field="policy",
                          fix=f"use one of: {', '.join(POLICIES)}")
    if n_patients < 1:
        raise ConfigError("need at least one patient", field="n_patients",
                          fix="pass n_patients >= 1")
    bias = measurement_bias or {}
    unknown = sorted(set(bias) - set(FEATURE_COLUMNS))
    if unknown:
        raise ConfigError(f"no measurement column {unknown[0]!r}", field="measurement_bias",
                          fix=f"bias one of: {', '.join(FEATURE_COLUMNS)}")
    rng = np.random.default_rng(seed)
    anatomy = _anatomy(n_patients, rng)
    potential = potential_vaults(anatomy, rng)
    recorded = anatomy.copy()
    for column, offset in bias.items():
        recorded[column] = recorded[column] + float(offset)
    chosen = POLICIES[policy](recorded, rng)
    sizes = np.asarray(ICL_SIZES_MM)[chosen]
    factual = recorded.round({"ata_mm": 2, "wtw_mm": 2, "acd_mm": 2, "lens_thickness_mm": 2,
                              "clr_um": 0})
    factual.insert(0, "patient_id", [f"p{seed:03d}-{i:06d}" for i in range(n_patients)])
    factual["icl_size_mm"] = sizes
    factual["vault_um"] = potential.to_numpy()[np.arange(n_patients), chosen].round(0)
    return SimulatedCohort(factual=factual, potential=potential.round(0), policy=policy,
                           seed=seed)
