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

Clinics differ, so the simulator has documented knobs (:class:`ClinicFamily`): noise that grows
with the distance between the size and the eye's ideal size, a response steeper on one side of
the ideal than the other, interactions of chamber depth, lens rise and age, another device's
measurement bias, another nomogram, an older population. ``FAMILIES`` names the grid the
benchmark runs; the default family is the reference clinic, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

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
    family: str = "reference"

    @property
    def options(self) -> list[float]:
        return [float(c) for c in self.potential.columns]


def _nearest_size(size_mm: np.ndarray) -> np.ndarray:
    """Index of the available size closest to each wanted size."""
    sizes = np.asarray(ICL_SIZES_MM)
    return np.abs(size_mm[:, None] - sizes[None, :]).argmin(axis=1)


def _nomogram(recorded: pd.DataFrame, rng: np.random.Generator, offset_mm: float = 1.0
              ) -> np.ndarray:
    """WTW/ACD nomogram: size up with WTW, one step larger in deep chambers; 20% deviate."""
    wanted = (recorded["wtw_mm"].to_numpy() + offset_mm
              + 0.2 * (recorded["acd_mm"].to_numpy() >= 3.5))
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


@dataclass
class ClinicFamily:
    """What one clinic's patients, devices, surgeons and eyes look like (simulation knobs).

    Args:
        name: the family's name in reports.
        policy: how its surgeons size ("nomogram", "ata", "random").
        nomogram_offset_mm: the WTW nomogram's oversizing (another manufacturer's table).
        measurement_bias: constants its device adds to recorded columns (true anatomy unchanged).
        ideal_oversize_mm: the size that vaults about 500 µm is ATA + this (another lens model).
        noise_um: standard deviation of the patient-level vault noise.
        noise_growth_um_per_mm: extra noise standard deviation per mm between the chosen size
            and the eye's ideal size (heteroscedastic: badly sized lenses are less predictable).
        oversize_slope: multiplies the vault's slope in size where the lens is larger than ideal
            (asymmetric: 1.6 = oversizing raises the vault 60% faster than undersizing lowers it).
        interaction_um: strength of the chamber-depth × lens-rise and age × chamber-depth terms.
        age_mean: mean age of its patients.
        n_train: the number of patients it typically has to fit on (the benchmark's default).
    """

    name: str = "reference"
    policy: str = "nomogram"
    nomogram_offset_mm: float = 1.0
    measurement_bias: dict[str, float] = field(default_factory=dict)
    ideal_oversize_mm: float = _IDEAL_OVERSIZE_MM
    noise_um: float = 60.0
    noise_growth_um_per_mm: float = 0.0
    oversize_slope: float = 1.0
    interaction_um: float = 0.0
    age_mean: float = 33.0
    n_train: int = 3000

    @property
    def heteroscedastic(self) -> bool:
        return self.noise_growth_um_per_mm > 0


REFERENCE = ClinicFamily()
# The grid the benchmark runs: each family changes what a real clinic varies; "distant" combines
# them like the clinic in issue 20 (noise growing away from the ideal size, steeper oversizing,
# another nomogram and lens).
FAMILIES: dict[str, ClinicFamily] = {family.name: family for family in [
    REFERENCE,
    ClinicFamily("heteroscedastic", noise_growth_um_per_mm=350.0),
    ClinicFamily("asymmetric", oversize_slope=1.6),
    ClinicFamily("interactions", interaction_um=90.0, age_mean=42.0),
    ClinicFamily("other_device", policy="ata", measurement_bias={"acd_mm": 0.25, "wtw_mm": -0.3},
                 ideal_oversize_mm=0.6),
    ClinicFamily("small_heteroscedastic", noise_growth_um_per_mm=350.0, n_train=400),
    ClinicFamily("distant", noise_growth_um_per_mm=300.0, oversize_slope=1.5,
                 nomogram_offset_mm=0.8, ideal_oversize_mm=0.7, interaction_um=40.0),
]}


def clinic_family(name: str) -> ClinicFamily:
    """The named family of ``FAMILIES`` (a ConfigError lists them)."""
    if name not in FAMILIES:
        raise ConfigError(f"unknown clinic family {name!r}", field="family",
                          fix=f"use one of: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def _anatomy(n: int, rng: np.random.Generator, age_mean: float = 33.0) -> pd.DataFrame:
    """True eye measurements of ``n`` ICL candidates (myopic adults)."""
    age = np.clip(rng.normal(age_mean, 7.0, n), 20.0, max(55.0, age_mean + 22.0))
    ata = rng.normal(11.9, 0.45, n)
    acd = rng.normal(3.2, 0.28, n) - 0.01 * (age - 33.0)
    lens = rng.normal(3.7, 0.2, n) + 0.02 * (age - 33.0)
    z_acd, z_lens = (acd - 3.2) / 0.28, (lens - 3.7) / 0.2
    clr = 68.0 + 151.0 * (0.5 * z_lens - 0.5 * z_acd + 0.6 * rng.normal(size=n))
    return pd.DataFrame({
        "age": age.round(0), "sphere_d": np.clip(rng.normal(-9.0, 3.0, n), -20.0, -1.0).round(2),
        "ata_mm": ata, "wtw_mm": ata - 0.2 + rng.normal(0.0, 0.25, n), "acd_mm": acd,
        "lens_thickness_mm": lens, "clr_um": clr})


def potential_vaults(anatomy: pd.DataFrame, rng: np.random.Generator,
                     family: ClinicFamily = REFERENCE) -> pd.DataFrame:
    """Vault (µm) for every size; monotone in size with a patient-specific slope."""
    n = len(anatomy)
    z_acd = ((anatomy["acd_mm"] - 3.2) / 0.28).to_numpy()
    slope = _SLOPE_UM_PER_MM * np.clip(1.0 + 0.12 * z_acd, 0.6, 1.4)
    ideal = anatomy["ata_mm"].to_numpy() + family.ideal_oversize_mm
    base = (500.0 - 0.6 * (anatomy["clr_um"].to_numpy() - 68.0)
            - 2.0 * (anatomy["age"].to_numpy() - 33.0) + rng.normal(0.0, family.noise_um, n))
    if family.interaction_um:
        z_clr = (anatomy["clr_um"].to_numpy() - 68.0) / 151.0
        z_age = (anatomy["age"].to_numpy() - 33.0) / 7.0
        base = base + family.interaction_um * z_acd * z_clr
        slope = slope * np.clip(1.0 - 0.1 * (family.interaction_um / 90.0) * z_age * z_acd,
                                0.6, 1.4)
    # One shock per eye, scaled by how far each size is from its ideal: a badly sized lens is
    # less predictable, and the shock is shared across sizes so the response stays smooth.
    shock = rng.normal(0.0, 1.0, n) if family.heteroscedastic else np.zeros(n)
    columns = {}
    for size in ICL_SIZES_MM:
        over = size - ideal
        steep = np.where(over > 0, family.oversize_slope, 1.0)
        # Oversizing compresses a little more than linearly (the lens arches); still monotone.
        columns[size] = base + steep * slope * over + 40.0 * np.clip(over, 0, None) ** 2 \
            + rng.normal(0.0, 20.0, n) \
            + family.noise_growth_um_per_mm * np.abs(over) * shock
    frame = pd.DataFrame(columns, index=anatomy.index)
    # Per-size noise must not break monotonicity (the assumption the bounds rely on).
    # A vault cannot be negative: the lens then rests on the crystalline lens (0 µm).
    frame[:] = np.clip(np.maximum.accumulate(frame.to_numpy(), axis=1), 0.0, None)
    return frame


def simulate(n_patients: int, *, policy: str | None = None, seed: int = 0,
             measurement_bias: dict[str, float] | None = None,
             family: ClinicFamily | str = REFERENCE) -> SimulatedCohort:
    """Simulate ``n_patients`` ICL patients of one clinic ``family``.

    Args:
        n_patients: number of patients (one eye each).
        policy: how surgeons choose the size: "nomogram" (WTW/ACD, followed imperfectly), "ata"
            (from the measured ATA) or "random" (a randomised trial); default the family's.
        seed: random seed; the same seed gives the same cohort.
        measurement_bias: constants added to *recorded* measurement columns (a device that reads
            ACD 0.3 mm deeper: ``{"acd_mm": 0.3}``); the true anatomy, which drives the vault,
            is unchanged. Surgeons size from the recorded values. Default the family's.
        family: a :class:`ClinicFamily` or the name of one in ``FAMILIES``.

    Returns:
        The factual table and every potential vault (columns are the sizes as floats).
    """
    family = clinic_family(family) if isinstance(family, str) else family
    policy = policy or family.policy
    if measurement_bias is not None:
        family = replace(family, measurement_bias=measurement_bias)
    if policy not in POLICIES:
        raise ConfigError(f"unknown policy {policy!r}", field="policy",
                          fix=f"use one of: {', '.join(POLICIES)}")
    if n_patients < 1:
        raise ConfigError("need at least one patient", field="n_patients",
                          fix="pass n_patients >= 1")
    bias = family.measurement_bias
    unknown = sorted(set(bias) - set(FEATURE_COLUMNS))
    if unknown:
        raise ConfigError(f"no measurement column {unknown[0]!r}", field="measurement_bias",
                          fix=f"bias one of: {', '.join(FEATURE_COLUMNS)}")
    rng = np.random.default_rng(seed)
    anatomy = _anatomy(n_patients, rng, family.age_mean)
    potential = potential_vaults(anatomy, rng, family)
    recorded = anatomy.copy()
    for column, offset in bias.items():
        recorded[column] = recorded[column] + float(offset)
    assign = (partial(_nomogram, offset_mm=family.nomogram_offset_mm) if policy == "nomogram"
              else POLICIES[policy])
    chosen = assign(recorded, rng)
    sizes = np.asarray(ICL_SIZES_MM)[chosen]
    factual = recorded.round({"ata_mm": 2, "wtw_mm": 2, "acd_mm": 2, "lens_thickness_mm": 2,
                              "clr_um": 0})
    factual.insert(0, "patient_id", [f"p{seed:03d}-{i:06d}" for i in range(n_patients)])
    factual["icl_size_mm"] = sizes
    factual["vault_um"] = potential.to_numpy()[np.arange(n_patients), chosen].round(0)
    return SimulatedCohort(factual=factual, potential=potential.round(0), policy=policy,
                           seed=seed, family=family.name)


def decision_ceiling(n_patients: int, *, family: ClinicFamily | str = REFERENCE, seed: int = 0,
                     target: tuple[float, float] = TARGET_RANGE_UM, draws: int = 300) -> float:
    """The share in range when every patient of ``simulate(n_patients, family=…, seed=…)`` gets
    the size with the highest *true* probability of landing in ``target``.

    The "oracle" of a cohort knows each eye's realised noise; no method can. This is the best
    any decision rule can do in expectation, estimated from ``draws`` fresh noise draws on the
    same eyes (the anatomy of ``simulate`` with the same seed).
    """
    family = clinic_family(family) if isinstance(family, str) else family
    anatomy = _anatomy(n_patients, np.random.default_rng(seed), family.age_mean)
    low, high = target
    hits = np.zeros((n_patients, len(ICL_SIZES_MM)))
    for draw in range(draws):
        vault = potential_vaults(anatomy, np.random.default_rng([seed, draw]), family).to_numpy()
        hits += (vault >= low) & (vault <= high)
    return float((hits / draws).max(axis=1).mean())
