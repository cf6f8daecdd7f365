"""The "viewed together" lifecycle: train → MLflow run → register; evaluate; load for serving.

``train`` fits an embedding model on the training part of the next-view split, logs validation
metrics (overall and cold items) and registers a bundle with its nearest-neighbour index;
``evaluate`` scores a registered version on the held-out test views as a separate run.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recstack.embeddings.bundle import SimilarItemsBundle
from recstack.embeddings.evaluation import ItemToItemModel, evaluate_next_view
from recstack.embeddings.itemknn import CoViewItemKNN
from recstack.embeddings.meta_prod2vec import MetaProd2Vec
from recstack.embeddings.models import embedding_model, embedding_models
from recstack.embeddings.prod2vec import Prod2Vec
from recstack.embeddings.scoring import RULES, select_scoring
from recstack.embeddings.sessions import (
    DEFAULT_METADATA,
    CoViewSplit,
    load_corpus,
    next_view_split,
)
from recstack.errors import ConfigError
from recstack.registry.bundles import log_bundle
from recstack.registry.models import ModelRegistry, ModelVersionInfo
from recstack.registry.tracking import log_metrics_prefixed, log_params_flat, start_run
from recstack.settings import Settings

log = logging.getLogger(__name__)
# Chosen by benchmarks/ann_index.py on the real item vectors (docs/embeddings.md).
DEFAULT_INDEX = "usearch"


@dataclass
class EmbeddingTrainConfig:
    model: str = "meta-prod2vec"  # a registered embedding model (recstack.embeddings.models)
    dataset: str = "travel"  # travel (sessions) or ml-1m-t2 (user sequences)
    params: dict[str, Any] = field(default_factory=dict)  # model hyper-parameter overrides
    register_as: str | None = None  # registered model name; default "<dataset>-similar-items"
    index: str = DEFAULT_INDEX  # exact, faiss-hnsw or usearch
    cold_max_count: int = 5  # cold items: at most this many training views
    gap_minutes: float = 30.0  # session cut for click logs
    # Meta-Prod2Vec's β, γ, n0, η chosen on the validation views after the fit: "balanced"
    # (widest margin over item-kNN and Prod2Vec on HR, NDCG, cold HR and cold NDCG at once),
    # "overall" (best NDCG@10) or "fixed" (keep the configured values). See embeddings.scoring.
    scoring: str = "balanced"
    scoring_rows: int = 3000  # validation rows the selection scores (0 = all)

    def __post_init__(self) -> None:
        if self.scoring not in ("fixed", *RULES):
            raise ConfigError(f"unknown scoring {self.scoring!r}", field="scoring",
                              fix=f"use one of: fixed, {', '.join(RULES)}")

    @property
    def registered_name(self) -> str:
        return self.register_as or f"{self.dataset}-similar-items"


@dataclass
class EmbeddingTrainResult:
    run_id: str
    version: ModelVersionInfo | None
    valid: dict[str, float]
    model: Any
    bundle: SimilarItemsBundle | None
    fit_seconds: float


def make_model(name: str, params: dict[str, Any] | None = None,
               dataset: str | None = None) -> Any:
    """An unfitted estimator from a registered model name and ``key=value`` overrides
    (checked); an unknown name is a ``ConfigError`` listing the registered ones."""
    return embedding_model(name).build(dict(params or {}), dataset)


def train(config: EmbeddingTrainConfig, settings: Settings, *, register: bool = True,
          split: CoViewSplit | None = None, progress: bool = True) -> EmbeddingTrainResult:
    """Fit, log validation metrics to MLflow and (for embedding models) register a bundle."""
    model = make_model(config.model, config.params, config.dataset)  # fail fast on bad params
    if register and not embedding_model(config.model).vectors:
        raise ConfigError(f"{config.model} has no vectors to put in an index", field="model",
                          fix=f"register one of {', '.join(embedding_models(vectors=True))}; "
                              f"{config.model} is an evaluation baseline "
                              "(pass register=False / --no-register)")
    split = split or next_view_split(load_corpus(config.dataset, settings, config.gap_minutes))
    tags = {"model_type": config.model, "dataset": split.dataset.name}
    with start_run(settings, f"{config.model}-{split.dataset.name}", kind="train",
                   tags=tags) as run:
        log_params_flat({"model": config.model, "dataset": split.dataset.name,
                         "n_items": split.n_items, "n_sequences": split.dataset.n_users,
                         "index": config.index, "cold_max_count": config.cold_max_count,
                         "config": model.get_params()})
        started = time.perf_counter()
        model.fit(split.train, split.n_items, split.dataset.item_metadata)
        fit_seconds = time.perf_counter() - started
        if isinstance(model, MetaProd2Vec) and config.scoring != "fixed":
            _choose_scoring(model, split, config)
        valid = evaluate_next_view(model, split, "valid", cold_max_count=config.cold_max_count,
                                   progress=progress)
        log_metrics_prefixed(valid, "valid", fit_seconds=fit_seconds,
                             tokens_per_second=getattr(model, "tokens_per_second_", None))
        bundle, version = None, None
        if hasattr(model, "candidate_vectors_"):
            bundle = SimilarItemsBundle.from_vectors(
                split.dataset.item_ids, split.dataset.item_metadata, model.query_vectors_,
                model.candidate_vectors_, index=config.index, info={
                    **tags, "run_id": run.info.run_id, "config": model.get_params(),
                    "dataset_source": config.dataset, "gap_minutes": config.gap_minutes,
                    "cold_max_count": config.cold_max_count})
            _log_projection(model, split)
            if register:
                version = _register(bundle, config.registered_name, settings,
                                    {**tags, "index": config.index}, valid)
    return EmbeddingTrainResult(run.info.run_id, version, valid, model, bundle, fit_seconds)


def _choose_scoring(model: MetaProd2Vec, split: CoViewSplit,
                    config: EmbeddingTrainConfig) -> None:
    """Pick β, γ, n0, η on validation views, against baselines fitted on the same views."""
    import mlflow

    cfg = model.config
    references: dict[str, ItemToItemModel] = {
        "item-kNN": CoViewItemKNN(window=cfg.window).fit(split.train, split.n_items),
        "Prod2Vec": Prod2Vec(dim=cfg.dim, window=cfg.window, negatives=cfg.negatives,
                             epochs=cfg.epochs, random_state=cfg.random_state, workers=1,
                             ).fit(split.train, split.n_items)}
    selection = select_scoring(model, split, rule=config.scoring, references=references,
                               cold_max_count=config.cold_max_count,
                               max_rows=config.scoring_rows)
    mlflow.log_params({f"chosen_{k}": v for k, v in asdict(selection.chosen).items()})
    mlflow.log_metrics({f"scoring_ref_{name.lower().replace('-', '')}_{k}": v
                        for name, metrics in selection.references.items()
                        for k, v in metrics.items() if np.isfinite(v)})
    mlflow.log_dict(selection.to_dict(), "scoring_selection.json")
    log.info("scoring (%s rule): %s", selection.rule, selection.chosen.describe())
    if selection.behind_references:
        mlflow.set_tag("scoring_behind_references", ",".join(selection.behind_references))
        log.warning("the chosen scoring (%s rule: %s) does not beat item-kNN and Prod2Vec on "
                    "%s on the validation views; serve the better model for this catalogue, "
                    "see docs/embeddings.md", selection.rule, selection.chosen.describe(),
                    ", ".join(selection.behind_references))


class _BundleScorer:
    """The bundle's vectors as an item-to-item model (row 0 = padding) for evaluation."""

    def __init__(self, bundle: SimilarItemsBundle):
        pad = np.zeros((1, bundle.query_vectors.shape[1]), dtype=np.float32)
        self.query = np.vstack([pad, bundle.query_vectors])
        self.candidate = np.vstack([pad, bundle.candidate_vectors])

    def similarity(self, items: np.ndarray) -> np.ndarray:
        return self.query[np.asarray(items, dtype=np.int64)] @ self.candidate.T


def evaluate(model_ref: str, settings: Settings, *, split: CoViewSplit | None = None,
             progress: bool = True) -> dict[str, float]:
    """Score a registered version on the held-out test views, as its own MLflow run."""
    registry = ModelRegistry(settings)
    info = registry.resolve(model_ref)
    bundle = SimilarItemsBundle.load(registry.download(info))
    if split is None:
        split = next_view_split(load_corpus(bundle.info["dataset_source"], settings,
                                            float(bundle.info.get("gap_minutes", 30.0))))
    cold = int(bundle.info.get("cold_max_count", 5))
    tags = {"model_name": info.name, "model_version": info.version,
            "model_type": info.model_type, "dataset": split.dataset.name}
    with start_run(settings, f"evaluate-{info.name}-v{info.version}", kind="evaluate", tags=tags):
        result = evaluate_next_view(_BundleScorer(bundle), split, "test", cold_max_count=cold,
                                    progress=progress)
        log_metrics_prefixed(result, "test")
    for key, value in result.items():
        registry.client.set_model_version_tag(info.name, info.version, f"test_{key}",
                                              f"{value:.5f}")
    return result


def load_bundle(model_ref: str, settings: Settings
                ) -> tuple[SimilarItemsBundle, ModelVersionInfo]:
    """The registered bundle for ``NAME@ALIAS`` / ``NAME/VERSION``, downloaded once."""
    registry = ModelRegistry(settings)
    info = registry.resolve(model_ref)
    return SimilarItemsBundle.load(registry.download(info)), info


def _log_projection(model: Any, split: CoViewSplit) -> None:
    """The 2-D map of item vectors coloured by metadata, as a run artifact."""
    import mlflow

    from recstack.embeddings.report import plot_projection

    field_name = DEFAULT_METADATA.get(split.dataset.name, (None,))[0]
    if field_name is None or split.dataset.item_metadata is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = plot_projection(model.item_vectors_, split.dataset.item_metadata, field_name,
                               Path(tmp) / "projection.png", counts=split.item_counts)
        mlflow.log_artifact(str(path))


def _register(bundle: SimilarItemsBundle, name: str, settings: Settings, tags: dict[str, str],
              metrics: dict[str, float]) -> ModelVersionInfo:
    from recstack.embeddings.pyfunc import PYFUNC_MODEL_FILE, similar_items_signature

    example = pd.DataFrame({"item_id": [bundle.items["item_id"].iat[0]], "k": [5]})
    return log_bundle(ModelRegistry(settings), name, bundle.save, kind="embeddings",
                      python_model=PYFUNC_MODEL_FILE, signature=similar_items_signature(),
                      input_example=example, metrics=metrics, tags=tags)
