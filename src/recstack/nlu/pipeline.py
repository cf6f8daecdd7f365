"""The NLU lifecycle as functions: train → track/register → evaluate → load for serving.

``train`` fits on the generated training questions, reports validation metrics and registers a
version; ``evaluate`` scores a registered version on the test questions, whose templates and
place names were never seen in training, as its own MLflow run (test numbers never choose).
"""

from __future__ import annotations

import inspect
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recstack.errors import ConfigError
from recstack.nlu.bundle import NLUBundle, configured_runtime, exports_for
from recstack.nlu.models import nlu_model_class, nlu_models
from recstack.nlu.schema import Example
from recstack.registry.bundles import log_bundle, metric_tags
from recstack.registry.models import ModelRegistry, ModelVersionInfo
from recstack.registry.tracking import log_metrics_prefixed, log_params_flat, start_run
from recstack.settings import Settings

log = logging.getLogger(__name__)
DEFAULT_NAME = "travel-nlu"


@dataclass
class NLUTrainConfig:
    model: str = "crf"  # a name from recstack.nlu.models
    seed: int = 0  # generation and split seed
    params: dict[str, Any] = field(default_factory=dict)  # model hyper-parameters
    register_as: str = DEFAULT_NAME
    # Place names the model may look up: "full" = the training questions' places and the world
    # gazetteer (what a deployment has: the default); "train" = only the training questions'
    # places, so held-out places are truly unseen (the benchmark reports both; versions carry
    # the choice as their `gazetteer` tag).
    gazetteer: str = "full"
    # A model fitted elsewhere on the same splits (a folder its class's save() wrote, e.g. on a
    # GPU machine): loaded instead of fitted, then scored, logged and registered the same way.
    saved: str | None = None


@dataclass
class NLUTrainResult:
    run_id: str
    version: ModelVersionInfo | None
    valid: dict[str, float]
    bundle: NLUBundle
    fit_seconds: float


def load_splits(settings: Settings, seed: int) -> Any:
    """Train/valid/test questions generated from the team's grammar and the gazetteer."""
    from recstack.nlu.data import make_splits

    return make_splits(seed=seed, shared_dir=settings.shared_data_dir)


def _typed(value: Any) -> Any:
    """``--set`` values arrive as text: numbers and booleans written as JSON become those."""
    import json

    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def gazetteer_for(config: NLUTrainConfig, splits: Any, settings: Settings
                  ) -> dict[str, list[str]]:
    """Entity type → names the model may match, per ``config.gazetteer``."""
    from recstack.nlu.data import PLACE_TYPES

    names: dict[str, set[str]] = {}
    for key, values in splits.grammars["train"].fillers.items():
        kind = key.split("/")[0]
        if kind in PLACE_TYPES:
            names.setdefault(kind, set()).update(values)
    if config.gazetteer == "full":
        from recstack.nlu.rules import gazetteer_from_files

        world = gazetteer_from_files(settings.shared_data_dir / "gazetteer")
        for kind, values in world.items():
            names.setdefault(kind, set()).update(values)
    elif config.gazetteer != "train":
        raise ConfigError(f"unknown gazetteer {config.gazetteer!r}", field="gazetteer",
                          fix="use 'train' (held-out places unseen) or 'full'")
    return {kind: sorted(values) for kind, values in names.items()}


def swap_names_for(gazetteer: dict[str, list[str]], splits: Any) -> dict[str, list[str]]:
    """The place names a model may swap into training questions: the gazetteer's, less every
    place a validation or test question names, so that held-out places stay unseen."""
    from recstack.nlu.data import PLACE_TYPES

    held_out = {name for part in ("valid", "test") if part in splits.grammars
                for key, values in splits.grammars[part].fillers.items()
                if key.split("/")[0] in PLACE_TYPES for name in values}
    return {kind: [n for n in names if n not in held_out]
            for kind, names in gazetteer.items() if kind in PLACE_TYPES}


def score(model: Any, examples: list[Example]) -> dict[str, float]:
    from recstack.nlu.evaluation import evaluate as evaluate_examples

    result = evaluate_examples(model, examples)
    intent, entities = result["intent"], result["entities"]
    return {"intent_accuracy": float(intent["accuracy"]),
            "intent_macro_f1": float(intent["macro_f1"]),
            "entity_precision": float(entities["precision"]),
            "entity_recall": float(entities["recall"]), "entity_f1": float(entities["f1"])}


def train(config: NLUTrainConfig, settings: Settings, *, register: bool = True,
          splits: Any = None) -> NLUTrainResult:
    """Fit one model, log it to MLflow with its validation metrics and register it."""
    if config.model not in nlu_models():
        raise ConfigError(f"unknown NLU model {config.model!r}", field="model",
                          fix=f"use one of: {', '.join(nlu_models())}")
    splits = splits or load_splits(settings, config.seed)
    gazetteer = gazetteer_for(config, splits, settings)
    params: dict[str, Any] = {"gazetteer": gazetteer}
    if "swap_names" in inspect.signature(nlu_model_class(config.model)).parameters:
        params["swap_names"] = swap_names_for(gazetteer, splits)
    params.update({k: _typed(v) for k, v in config.params.items()})
    try:
        model = nlu_model_class(config.model)(**params)
    except TypeError as exc:
        raise ConfigError(str(exc), field="--set", fix="see docs/nlu.md for the models' "
                                                       "parameters") from None
    tags = {"model_type": config.model, "dataset": "travel-nlu-templates",
            "seed": str(config.seed), "gazetteer": config.gazetteer}
    with start_run(settings, f"nlu-{config.model}", kind="train", tags=tags) as run:
        log_params_flat({"model": config.model, "seed": config.seed, "params": config.params,
                         "n_train": len(splits.train), "n_valid": len(splits.valid)})
        started = time.perf_counter()
        if config.saved:
            model = _load_saved(config)
            if getattr(getattr(model, "config", None), "tune_span_thresholds", False):
                # What fit does (recstack.nlu.decoding), for a model saved before it did.
                model.tune_span_thresholds(splits.valid)
            history = getattr(model, "history_", None)
            fit_seconds = sum(e.seconds for e in history.epochs) if history else float("nan")
            import mlflow

            mlflow.set_tags({"fitted_elsewhere": config.saved,
                             "fitted_on": getattr(history, "device", "unknown")})
        else:
            model.fit(splits.train, valid=splits.valid)
            fit_seconds = time.perf_counter() - started
        valid = score(model, splits.valid)
        log_metrics_prefixed(valid, "valid", fit_seconds=fit_seconds)
        # The ONNX export the configured runtime serves goes into the bundle's artifacts.
        runtime, _ = configured_runtime(settings)
        bundle = NLUBundle(model=model, model_type=config.model,
                           info={**tags, "run_id": run.info.run_id, "params": config.params},
                           reference=_reference(model, splits.valid),
                           exports=exports_for(config.model, runtime))
        version = None
        if register:
            version = _register(bundle, config.register_as, settings, tags, valid)
    return NLUTrainResult(run.info.run_id, version, valid, bundle, fit_seconds)


def _load_saved(config: NLUTrainConfig) -> Any:
    folder = Path(config.saved or "")
    if not folder.is_dir():
        raise ConfigError(f"no saved model at {folder}", field="saved",
                          fix="pass the folder the model's save() wrote")
    return nlu_model_class(config.model).load(folder)


def evaluate(model_ref: str, settings: Settings, *, splits: Any = None) -> dict[str, float]:
    """Score a registered version on the held-out test questions, as its own MLflow run."""
    bundle, info = load_bundle(model_ref, settings)
    splits = splits or load_splits(settings, int(bundle.info.get("seed", 0)))
    # The runtime that parsed (RECSTACK_NLU__RUNTIME): test metrics are the served model's.
    tags = {"model_name": info.name, "model_version": info.version,
            "model_type": info.model_type, "runtime": bundle.runtime}
    with start_run(settings, f"evaluate-{info.name}-v{info.version}", kind="evaluate", tags=tags):
        metrics = score(bundle.model, splits.test)
        log_metrics_prefixed(metrics, "test")
    registry = ModelRegistry(settings)
    for key, value in metric_tags(metrics, prefix="test_").items():
        registry.client.set_model_version_tag(info.name, info.version, key, value)
    return metrics


def _reference(model: Any, examples: list[Example]) -> Any:
    """Validation parses as monitoring's reference: the logged features, the predicted intent
    (``prediction``) and the true one (``label``)."""
    import pandas as pd

    from recstack.nlu.bundle import monitored_features

    parses = model.parse([e.text for e in examples])
    return pd.DataFrame([{**monitored_features(p), "prediction": p.intent, "label": e.intent}
                         for p, e in zip(parses, examples, strict=True)])


def load_bundle(model_ref: str, settings: Settings) -> tuple[NLUBundle, ModelVersionInfo]:
    registry = ModelRegistry(settings)
    info = registry.resolve(model_ref)
    runtime, threads = configured_runtime(settings)
    return NLUBundle.load(registry.download(info), runtime=runtime, threads=threads), info


def _register(bundle: NLUBundle, name: str, settings: Settings, tags: dict[str, str],
              metrics: dict[str, float]) -> ModelVersionInfo:
    import pandas as pd

    from recstack.nlu.pyfunc import PYFUNC_MODEL_FILE, nlu_signature

    return log_bundle(ModelRegistry(settings), name, bundle.save, kind="nlu",
                      python_model=PYFUNC_MODEL_FILE, signature=nlu_signature(),
                      input_example=pd.DataFrame({"text": ["홋카이도 3박4일 일정 짜줘"]}),
                      metrics=metrics, tags=tags)


def read_jsonl_texts(path: Path) -> list[str]:
    """The ``text`` field of each line of a JSONL file, with errors naming the line."""
    import json

    from recstack.errors import DataError

    if not Path(path).is_file():
        raise DataError(f"no file at {path}", field="--input", fix="give a .jsonl file")
    texts = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"line {number} is not JSON ({exc.msg})", field="--input",
                            fix='write one object per line: {"text": "…"}') from None
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"line {number} has no non-empty 'text' field", field="--input",
                            fix='write one object per line: {"text": "…"}')
        texts.append(text)
    return texts
