"""The next-item lifecycle as functions: train → track/register → evaluate → load for serving.

``train`` fits on the training part of a split, reports validation metrics and registers the
model; ``evaluate`` is a separate step that scores a registered version on the held-out test
rows, so test numbers never drive model selection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import recstack.sequential.models  # noqa: F401  (registers the models)
from recstack.data.catalog import load_dataset
from recstack.data.dataset import SequenceDataset
from recstack.data.splits import Split, global_temporal_split, leave_one_out
from recstack.errors import ConfigError
from recstack.evaluation import EvaluationResult, count_items, evaluate_scores
from recstack.registry.bundles import log_bundle
from recstack.registry.models import ModelRegistry, ModelVersionInfo
from recstack.registry.tracking import log_metrics_prefixed, log_params_flat, start_run
from recstack.sequential.base import FitContext, Recommender, model_class
from recstack.sequential.bundle import RecommenderBundle
from recstack.settings import Settings
from recstack.training import log_epoch_to_mlflow

log = logging.getLogger(__name__)
SPLITS: dict[str, Callable[[SequenceDataset], Split]] = {
    "leave-one-out": leave_one_out, "temporal": global_temporal_split}


@dataclass
class TrainConfig:
    model: str = "itemknn"  # registered model type
    dataset: str = "travel"  # catalogue name or interactions file
    split: str = "leave-one-out"  # or "temporal"
    params: dict[str, Any] = field(default_factory=dict)  # model config overrides
    register_as: str | None = None  # registered model name; default "<dataset>-next-item"
    ks: tuple[int, ...] = (10, 20)
    # Item metadata from the feature store (``view:feature``, view keyed by item_id) instead of
    # the dataset's own files; the versioned references are recorded with the model.
    item_features: list[str] | None = None
    # The named recipe this run follows (``recstack.sequential.recipes``) and what was changed
    # on top of it (``--set`` keys, ``dataset``, ``split``); both are tagged on run and version.
    recipe: str | None = None
    recipe_overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_recipe(cls, name: str, overrides: dict[str, Any] | None = None, *,
                    dataset: str | None = None, split: str | None = None,
                    **kwargs: Any) -> TrainConfig:
        """The recipe's model, data and settings, with ``overrides`` (``--set``) on top.

        Raises:
            ConfigError: unknown recipe name (``field="recipe"``, listing the known ones).
        """
        from recstack.sequential.recipes import get_recipe

        recipe = get_recipe(name)
        changed = dict(overrides or {})
        for key, value, default in (("dataset", dataset, recipe.dataset),
                                    ("split", split, recipe.split)):
            if value is not None and value != default:
                changed[key] = value
        return cls(model=recipe.model, dataset=dataset or recipe.dataset,
                   split=split or recipe.split, params={**recipe.params(), **(overrides or {})},
                   recipe=recipe.name, recipe_overrides=changed, **kwargs)

    @property
    def run_tags(self) -> dict[str, str]:
        """``recipe`` and ``recipe_overrides`` (``key=value`` joined by spaces), when set."""
        if not self.recipe:
            return {}
        tags = {"recipe": self.recipe}
        if self.recipe_overrides:
            tags["recipe_overrides"] = " ".join(f"{k}={v}"
                                                for k, v in self.recipe_overrides.items())
        return tags

    @property
    def registered_name(self) -> str:
        return self.register_as or f"{Path(self.dataset).stem}-next-item"


@dataclass
class TrainResult:
    run_id: str
    version: ModelVersionInfo | None
    valid: EvaluationResult
    bundle: RecommenderBundle
    fit_seconds: float


def make_split(dataset: SequenceDataset, split: str) -> Split:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}", field="split",
                          fix=f"use one of: {', '.join(SPLITS)}")
    return SPLITS[split](dataset)


def prepare_training(config: TrainConfig, settings: Settings, split: Split | None = None,
                     ) -> tuple[Recommender, Split, dict[str, str]]:
    """The unfitted model, the split (with store metadata if asked) and the run's tags."""
    model = model_class(config.model).from_params(config.params)  # fail fast on bad params
    split = split or make_split(load_dataset(config.dataset, settings), config.split)
    tags = {"model_type": config.model, "dataset": split.dataset.name, "split": split.protocol,
            **config.run_tags}
    if config.item_features:
        from recstack.sequential.item_features import with_store_metadata

        split, refs = with_store_metadata(split, config.item_features, settings)
        tags["item_feature_refs"] = ",".join(refs)
    return model, split, tags


def fit_on_split(model: Recommender, split: Split, *, on_epoch: Callable[[Any], None] | None,
                 progress: bool) -> float:
    """Fit on the split's training part, validating on its validation rows; returns seconds.

    Every rank of a distributed run calls this with the same model and split (see
    ``recstack.sequential.distributed``); only rank 0 tracks it.
    """
    started = time.perf_counter()
    model.fit(split.train, split.n_items, FitContext(
        valid=split.valid, item_metadata=split.dataset.item_metadata, on_epoch=on_epoch,
        progress=progress))
    return time.perf_counter() - started


def train(config: TrainConfig, settings: Settings, *, register: bool = True,
          split: Split | None = None, progress: bool = True,
          parent_run_id: str | None = None) -> TrainResult:
    """Fit one model, log it to MLflow with its validation metrics and register it.

    ``parent_run_id`` makes the run a child of that run (a sweep's trial in a worker process).
    """
    model, split, tags = prepare_training(config, settings, split)
    with start_run(settings, f"{config.model}-{split.dataset.name}", kind="train",
                   tags=tags, parent_run_id=parent_run_id) as run:
        log_params_flat({"model": config.model, "dataset": split.dataset.name,
                         "split": split.protocol, "n_items": split.n_items,
                         "n_users": split.dataset.n_users, "config": asdict(model.config)})
        fit_seconds = fit_on_split(model, split, on_epoch=log_epoch_to_mlflow,
                                   progress=progress)
        _log_training_summary(model)
        valid = _evaluate_model(model, split, "valid", config.ks, progress)
        log_metrics_prefixed(valid.metrics, "valid", fit_seconds=fit_seconds)
        bundle = RecommenderBundle.from_dataset(model, split.dataset, info={
            **tags, "run_id": run.info.run_id, "config": asdict(model.config),
            "dataset_source": config.dataset, "split_name": config.split})
        version = None
        if register:
            version = _register(bundle, config.registered_name, settings, tags, valid.metrics)
    return TrainResult(run.info.run_id, version, valid, bundle, fit_seconds)


def evaluate(model_ref: str, settings: Settings, *, split: Split | None = None,
             ks: tuple[int, ...] = (10, 20), progress: bool = True) -> EvaluationResult:
    """Score a registered version on the test rows of its dataset, as its own MLflow run."""
    registry = ModelRegistry(settings)
    info = registry.resolve(model_ref)
    bundle = RecommenderBundle.load(registry.download(info))
    if split is None:
        dataset = load_dataset(bundle.info["dataset_source"], settings)
        split = make_split(dataset, bundle.info["split_name"])
    tags = {"model_name": info.name, "model_version": info.version,
            "model_type": info.model_type, "dataset": split.dataset.name}
    with start_run(settings, f"evaluate-{info.name}-v{info.version}", kind="evaluate", tags=tags):
        result = _evaluate_model(bundle.model, split, "test", ks, progress)
        log_metrics_prefixed(result.metrics, "test")
    for key, value in result.metrics.items():
        registry.client.set_model_version_tag(info.name, info.version, f"test_{key}",
                                              f"{value:.5f}")
    return result


def load_bundle(model_ref: str, settings: Settings) -> tuple[RecommenderBundle, ModelVersionInfo]:
    registry = ModelRegistry(settings)
    info = registry.resolve(model_ref)
    return RecommenderBundle.load(registry.download(info)), info


def _evaluate_model(model: Recommender, split: Split, part: str, ks: tuple[int, ...],
                    progress: bool) -> EvaluationResult:
    rows = split.valid if part == "valid" else split.test
    counts = count_items(split.train, split.n_items)
    return evaluate_scores(model.score, rows, split.n_items, item_counts=counts, ks=ks,
                           progress=progress)


def _log_training_summary(model: Recommender) -> None:
    import mlflow

    history = getattr(model, "history_", None)
    if history is not None and history.epochs:
        mlflow.log_metrics({"best_epoch": history.best_epoch,
                            "epochs_trained": len(history.epochs),
                            "seconds_per_epoch": float(np.mean([e.seconds
                                                                for e in history.epochs]))})
        # the epochs the schedule was planned over, and fewer if it was fitted to the budget
        mlflow.log_params(history.plan_params())
        mlflow.set_tag("device", history.device)


def _register(bundle: RecommenderBundle, name: str, settings: Settings, tags: dict[str, str],
              metrics: dict[str, float]) -> ModelVersionInfo:
    from recstack.sequential.pyfunc import PYFUNC_MODEL_FILE, recommender_signature

    example = pd.DataFrame({"user_id": [next(iter(bundle.histories))], "k": [5]})
    return log_bundle(ModelRegistry(settings), name, bundle.save, kind="sequential",
                      python_model=PYFUNC_MODEL_FILE, signature=recommender_signature(),
                      input_example=example, metrics=metrics, tags=tags)
