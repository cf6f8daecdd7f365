"""The treatment lifecycle as functions: read a table → fit → track/register → predict.

``fit`` logs parameters, overlap diagnostics and the bundle to MLflow and registers a version;
``predict`` loads a registered version (``NAME@ALIAS`` or ``NAME/VERSION``) and writes one row
per (row, option). A bundle is a folder with the fitted estimator (joblib) and ``treatment.json``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from recstack.errors import ConfigError, DataError, NotFoundError
from recstack.monitoring.reference import write_reference
from recstack.registry.bundles import log_bundle
from recstack.registry.models import ModelRegistry, ModelVersionInfo
from recstack.registry.tracking import log_params_flat, start_run
from recstack.settings import Settings
from recstack.tables import read_table
from recstack.treatment.estimator import TreatmentRecommender

log = logging.getLogger(__name__)
MODEL_TYPE = "treatment-conformal"
ESTIMATOR_FILE = "estimator.joblib"
INFO_FILE = "treatment.json"


@dataclass
class FitConfig:
    data: Path  # CSV or parquet with features, treatment and outcome
    treatment: str = "icl_size_mm"
    outcome: str = "vault_um"
    target: tuple[float, float] = (250.0, 750.0)
    features: list[str] | None = None  # default: every numeric column but treatment/outcome/id
    alpha: float = 0.1  # intervals aim at 90% coverage
    propensity_floor: float = 0.01  # trimming: below it a cell is unsupported
    monotone: str | None = "increasing"  # assumed response to an ordered option, or None
    id_column: str = "patient_id"
    register_as: str | None = None  # default "icl-size" for lens data, else "<file>-treatment"
    random_state: int = 0
    params: dict[str, Any] = field(default_factory=dict)  # other estimator hyper-parameters
    # Features from the feature store (``view:feature`` or ``view:*``), joined point-in-time to
    # the label rows in ``data`` (id + event_timestamp + treatment + outcome) instead of read
    # from ``data``; the versioned references are registered with the model for serving.
    store_features: list[str] | None = None

    @property
    def registered_name(self) -> str:
        if self.register_as:
            return self.register_as
        return "icl-size" if self.treatment == "icl_size_mm" else f"{self.data.stem}-treatment"


@dataclass
class FitResult:
    run_id: str
    version: ModelVersionInfo | None
    model: TreatmentRecommender
    diagnostics: dict[str, Any]
    fit_seconds: float


def parse_target(text: str) -> tuple[float, float]:
    """``"250:750"`` → (250.0, 750.0)."""
    low, sep, high = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(low), float(high)
    except ValueError:
        raise ConfigError(f"{text!r} is not a range", field="--target",
                          fix="write LOW:HIGH, e.g. 250:750") from None


def build_estimator(config: FitConfig) -> TreatmentRecommender:
    if config.monotone not in ("increasing", "decreasing", None):
        raise ConfigError(f"unknown monotone {config.monotone!r}", field="monotone",
                          fix="use increasing, decreasing or none")
    try:
        return TreatmentRecommender(
            features=config.features, treatment=config.treatment, outcome=config.outcome,
            target=config.target, alpha=config.alpha, propensity_floor=config.propensity_floor,
            monotone=config.monotone,  # type: ignore[arg-type]
            id_column=config.id_column, random_state=config.random_state, **config.params)
    except TypeError as exc:
        raise ConfigError(str(exc), field="params",
                          fix="see TreatmentRecommender's arguments in docs/treatment.md"
                          ) from None


def fit(config: FitConfig, settings: Settings, *, register: bool = True) -> FitResult:
    """Fit on a table, log diagnostics to MLflow and register a version."""
    frame = read_table(config.data, field="data")
    tags = {"model_type": MODEL_TYPE, "treatment": config.treatment, "outcome": config.outcome,
            "dataset": config.data.name}
    if config.store_features:
        frame, refs = _join_store_features(frame, config.store_features, settings)
        config = replace(config, features=[ref.rsplit(":", 1)[1] for ref in refs])
        tags["feature_refs"] = ",".join(refs)
    model = build_estimator(config)
    with start_run(settings, f"treatment-{config.data.stem}", kind="train", tags=tags) as run:
        started = time.perf_counter()
        model.fit(frame)
        fit_seconds = time.perf_counter() - started
        diagnostics = model.diagnostics()
        log_params_flat({"config": {k: str(v) for k, v in asdict(config).items()},
                         "features": ",".join(model.feature_names_),
                         "options": ",".join(map(str, model.options_))})
        _log_diagnostics(diagnostics, fit_seconds)
        version = None
        if register:
            version = _register(model, config, settings, {
                **tags, "run_id": run.info.run_id}, frame)
    return FitResult(run.info.run_id, version, model, diagnostics, fit_seconds)


def _join_store_features(labels: pd.DataFrame, features: list[str], settings: Settings
                         ) -> tuple[pd.DataFrame, list[str]]:
    from recstack.features.store import FeatureStore
    from recstack.treatment.feature_views import expand_features, training_frame

    store = FeatureStore(settings)
    try:
        return training_frame(store, labels, expand_features(store, features))
    finally:
        store.close()


def feature_refs(info: dict[str, Any]) -> list[str]:
    """The versioned feature-store references a bundle was trained on (empty: from a table)."""
    refs = str(info.get("feature_refs") or "")  # stored as a comma-joined tag
    return refs.split(",") if refs else []


def _log_diagnostics(diagnostics: dict[str, Any], fit_seconds: float) -> None:
    import mlflow

    metrics = {"fit_seconds": fit_seconds, "kappa_min": diagnostics["kappa_min"],
               "share_patients_without_support": diagnostics["share_patients_without_support"]}
    if diagnostics["kappa_max"] is not None:
        metrics["kappa_max"] = diagnostics["kappa_max"]
    for entry in diagnostics["options"]:
        key = str(entry["option"]).replace(" ", "_")
        for name in ("share_supported", "propensity_ece", "effective_calibration_size"):
            metrics[f"{name}_{key}"] = entry[name]
    mlflow.log_metrics(metrics)
    mlflow.log_dict(diagnostics, "diagnostics.json")


def save_bundle(model: TreatmentRecommender, directory: Path, info: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / ESTIMATOR_FILE)
    (directory / INFO_FILE).write_text(json.dumps(info, indent=2, default=str))
    return directory


def load_bundle_dir(directory: Path) -> tuple[TreatmentRecommender, dict[str, Any]]:
    if not (directory / INFO_FILE).exists():
        raise DataError(f"{directory} holds no recstack treatment model", field="model",
                        fix="use a model registered by `recstack treatment fit`")
    # Our own registry's artifact, written by save_bundle; not user-supplied input.
    model: TreatmentRecommender = joblib.load(directory / ESTIMATOR_FILE)
    return model, json.loads((directory / INFO_FILE).read_text())


def load_model(model_ref: str, settings: Settings
               ) -> tuple[TreatmentRecommender, ModelVersionInfo]:
    """A registered treatment model by reference; other model types are a clear error."""
    registry = ModelRegistry(settings)
    info = registry.resolve(model_ref)
    require_treatment_model(info, model_ref)
    model, _ = load_bundle_dir(registry.download(info))
    return model, info


def require_treatment_model(info: ModelVersionInfo, model_ref: str) -> None:
    if info.model_type != MODEL_TYPE:
        raise NotFoundError(f"{model_ref!r} is a {info.model_type} model, not a treatment model",
                            field="model", fix="name a model registered by "
                            "`recstack treatment fit` (see `recstack models list`)")


def predict(model_ref: str, data: Path, out: Path, settings: Settings) -> pd.DataFrame:
    """Write one row per (input row, option) for every row of ``data`` to ``out`` (CSV)."""
    model, _ = load_model(model_ref, settings)
    preds = model.predict(read_table(data, field="data"))
    out.parent.mkdir(parents=True, exist_ok=True)
    preds.to_csv(out, index=False)
    return preds


def _register(model: TreatmentRecommender, config: FitConfig, settings: Settings,
              tags: dict[str, str], frame: pd.DataFrame) -> ModelVersionInfo:
    from recstack.treatment.pyfunc import PYFUNC_MODEL_FILE, treatment_signature

    name = config.registered_name
    registry = ModelRegistry(settings)

    def write(directory: Path) -> None:
        save_bundle(model, directory, {
            **tags, "features": model.feature_names_, "options": model.options_,
            "target": list(model.target), "alpha": model.alpha})
        # The exact training frame (from the feature store where it came from there) is what
        # monitoring compares live features against.
        write_reference(frame[[*model.feature_names_, model.treatment, model.outcome]],
                        directory)

    version = log_bundle(registry, name, write, kind="treatment", python_model=PYFUNC_MODEL_FILE,
                         signature=treatment_signature(model),
                         input_example=frame[model.feature_names_].head(2), tags=tags)
    if not any("champion" in v.aliases for v in registry.list(name)):
        # The first version of a use case becomes its champion; later ones are promoted by hand.
        version = registry.promote(name, version.version, "champion")
    return version
