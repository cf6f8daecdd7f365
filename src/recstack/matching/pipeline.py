"""The matching lifecycle as functions: train → track/register → evaluate → predict.

``train`` fits a matcher on the training pairs, lets it choose its decision rule on the
validation pairs, logs the validation metrics to an MLflow run and registers a version (kind
``matching``). ``evaluate`` scores a registered version on a test file as its own run (test
numbers never choose anything); ``predict`` writes one row per pair.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recstack.errors import ConfigError
from recstack.matching.bundle import MatchBundle, monitored_features
from recstack.matching.data import PairSet, read_pairs
from recstack.matching.matchers import matcher_class, matcher_names
from recstack.registry.bundles import log_bundle, metric_tags
from recstack.registry.models import ModelRegistry, ModelVersionInfo
from recstack.registry.tracking import log_metrics_prefixed, log_params_flat, start_run
from recstack.settings import Settings

log = logging.getLogger(__name__)
DEFAULT_NAME = "place-matcher"
KIND = "matching"


@dataclass
class MatchTrainConfig:
    train: Path  # labelled pair file the matcher is fitted on
    valid: Path  # labelled pair file that chooses thresholds (never the test file)
    model: str = "gbm"  # a name from recstack.matching.matchers
    params: dict[str, Any] = field(default_factory=dict)  # matcher hyper-parameters
    register_as: str = DEFAULT_NAME


@dataclass
class MatchTrainResult:
    run_id: str
    version: ModelVersionInfo | None
    valid: dict[str, float]
    bundle: MatchBundle
    fit_seconds: float


def scores(labels: np.ndarray, decisions: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of the match class (0 when undefined), and accuracy."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, decisions, average="binary", zero_division=0)
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "accuracy": float(accuracy_score(labels, decisions))}


def typed_params(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """``--set`` values (text) as the types of the matcher's keyword defaults; an unknown key
    is an error listing the known ones."""
    import inspect
    import json

    known = {name: p.default for name, p in inspect.signature(cls).parameters.items()
             if p.kind is p.KEYWORD_ONLY}
    typed: dict[str, Any] = {}
    for key, value in params.items():
        if key not in known:
            raise ConfigError(f"{cls.__name__} has no parameter {key!r}", field=f"--set {key}",
                              fix=f"use one of: {', '.join(sorted(known)) or 'none'}")
        default = known[key]
        if not isinstance(value, str) or isinstance(default, str):
            typed[key] = value
            continue
        try:
            if isinstance(default, bool):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                typed[key] = value.lower() in ("true", "1")
            elif isinstance(default, int | float):
                typed[key] = type(default)(float(value)) if isinstance(default, float) \
                    else int(value)
            else:  # tuples and lists: a JSON list
                typed[key] = type(default)(json.loads(value))
        except (ValueError, TypeError, json.JSONDecodeError):
            raise ConfigError(f"{value!r} is not a valid {type(default).__name__}",
                              field=f"--set {key}", fix=f"write e.g. {key}={default}") from None
    return typed


def train(config: MatchTrainConfig, settings: Settings, *, register: bool = True,
          pairs: tuple[PairSet, PairSet] | None = None) -> MatchTrainResult:
    """Fit one matcher, log it to MLflow with its validation metrics and register it.

    Args:
        config: the files, the matcher and its parameters, the registered name.
        settings: where MLflow lives.
        register: register a version (off for a dry run).
        pairs: already-read (train, valid) pairs, instead of reading ``config``'s files.
    """
    if config.model not in matcher_names():
        raise ConfigError(f"unknown matcher {config.model!r}", field="model",
                          fix=f"use one of: {', '.join(matcher_names())}")
    train_pairs, valid_pairs = pairs or (read_pairs(config.train, require_labels=True),
                                         read_pairs(config.valid, require_labels=True))
    matcher = matcher_class(config.model)(**typed_params(matcher_class(config.model),
                                                         config.params))
    tags = {"model_type": config.model, "dataset": train_pairs.source or str(config.train),
            "valid_dataset": valid_pairs.source or str(config.valid)}
    with start_run(settings, f"match-{config.model}", kind="train", tags=tags) as run:
        log_params_flat({"model": config.model, "params": config.params,
                         "n_train": len(train_pairs), "n_valid": len(valid_pairs)})
        started = time.perf_counter()
        matcher.fit(train_pairs, valid_pairs)
        fit_seconds = time.perf_counter() - started
        log_params_flat({"chosen": matcher.describe()})
        decisions = matcher.predict(valid_pairs)
        valid = scores(valid_pairs.require_labels("validation"), decisions)
        log_metrics_prefixed(valid, "valid", fit_seconds=fit_seconds)
        reference = monitored_features(valid_pairs, matcher).assign(
            prediction=decisions, label=valid_pairs.labels)
        bundle = MatchBundle(matcher=matcher, model_type=config.model,
                             info={**tags, "run_id": run.info.run_id, "params": config.params,
                                   "chosen": matcher.describe()}, reference=reference)
        version = _register(bundle, config.register_as, settings, tags, valid) if register \
            else None
    return MatchTrainResult(run.info.run_id, version, valid, bundle, fit_seconds)


def load_bundle(model_ref: str, settings: Settings) -> tuple[MatchBundle, ModelVersionInfo]:
    registry = ModelRegistry(settings)
    info = registry.resolve(model_ref)
    return MatchBundle.load(registry.download(info)), info


def evaluate(model_ref: str, pairs_path: Path, settings: Settings, *,
             pairs: PairSet | None = None) -> dict[str, float]:
    """Precision, recall and F1 of a registered version on a labelled file, as its own run;
    the numbers are also tagged on the version (``test_f1``)."""
    bundle, info = load_bundle(model_ref, settings)
    pairs = pairs or read_pairs(pairs_path, require_labels=True)
    labels = pairs.require_labels("evaluation")
    tags = {"model_name": info.name, "model_version": info.version,
            "model_type": info.model_type, "dataset": pairs.source}
    with start_run(settings, f"evaluate-{info.name}-v{info.version}", kind="evaluate", tags=tags):
        started = time.perf_counter()
        decisions = (bundle.score(pairs) >= 0.5).astype(np.int8)
        seconds = time.perf_counter() - started
        metrics = scores(labels, decisions)
        metrics["pairs_per_second"] = len(pairs) / max(seconds, 1e-9)
        log_metrics_prefixed(metrics, "test")
    registry = ModelRegistry(settings)
    for key, value in metric_tags({k: metrics[k] for k in ("precision", "recall", "f1")},
                                  prefix="test_").items():
        registry.client.set_model_version_tag(info.name, info.version, key, value)
    return metrics


def predict(model_ref: str, pairs_path: Path, out: Path, settings: Settings) -> pd.DataFrame:
    """Score every pair of a file (labels optional) and write ``pair,score,match`` to ``out``;
    ``pair`` is the line's index in the file, from 0."""
    bundle, _ = load_bundle(model_ref, settings)
    pairs = read_pairs(pairs_path)
    score = bundle.score(pairs)
    frame = pd.DataFrame({"pair": pairs.lines, "score": score,
                          "match": (score >= 0.5).astype(int)})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    return frame


def _register(bundle: MatchBundle, name: str, settings: Settings, tags: dict[str, str],
              metrics: dict[str, float]) -> ModelVersionInfo:
    from recstack.matching.pyfunc import PYFUNC_MODEL_FILE, matching_signature

    example = pd.DataFrame({
        "left": ["COL name VAL Bellefield Presbyterian Church COL latitude VAL 40.4436 "
                 "COL longitude VAL -79.9567"],
        "right": ["COL name VAL Bellefield Presbyterian Church COL latitude VAL 40.4436 "
                  "COL longitude VAL -79.9567 COL address VAL 4001 5th Ave"]})
    return log_bundle(ModelRegistry(settings), name, bundle.save, kind=KIND,
                      python_model=PYFUNC_MODEL_FILE, signature=matching_signature(),
                      input_example=example, metrics=metrics, tags=tags)
