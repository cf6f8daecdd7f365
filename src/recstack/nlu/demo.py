"""The NLU system's step of ``recstack demo``: the rules baseline and the CRF train on the
generated questions, are scored on unseen templates and place names, and the better on
validation serves ``POST /v1/nlu/parse``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from recstack.registry.models import ModelRegistry
from recstack.settings import Settings
from recstack.system import DemoOutcome

DEMO_MODELS = ("rules", "crf")


QUICK_SIZES = (600, 100, 150)  # --quick: train, valid, test questions


def run(settings: Settings, console: Console, quick: bool = False) -> DemoOutcome:
    from recstack.nlu.data import make_splits
    from recstack.nlu.pipeline import DEFAULT_NAME, NLUTrainConfig, evaluate, train

    gazetteer = settings.shared_data_dir / "gazetteer"
    if not gazetteer.is_dir():
        # The place names come from the shared gazetteer; without it there is nothing to train.
        console.print(f"NLU skipped: no gazetteer at {gazetteer} (set RECSTACK_DATA__SHARED_DIR "
                      "to the shared data folder)")
        return DemoOutcome(summary="skipped: no gazetteer")
    with console.status("NLU: generating Korean travel questions from the grammar"):
        splits = (make_splits(seed=0, sizes=QUICK_SIZES, shared_dir=settings.shared_data_dir)
                  if quick else make_splits(seed=0, shared_dir=settings.shared_data_dir))
    console.print(f"NLU data: {len(splits.train):,} train / {len(splits.valid):,} valid / "
                  f"{len(splits.test):,} test questions (test: unseen templates and places)")
    table = Table(title=f"{DEFAULT_NAME}: intent and entities")
    for column in ("version", "model", "valid intent acc", "valid entity F1", "test intent acc",
                   "test entity F1", "fit s"):
        table.add_column(column, justify="right")
    versions = []
    for model in DEMO_MODELS[:1] if quick else DEMO_MODELS:
        with console.status(f"NLU: training {model}"):
            trained = train(NLUTrainConfig(model=model), settings, splits=splits)
            assert trained.version is not None
            test = evaluate(f"{DEFAULT_NAME}/{trained.version.version}", settings, splits=splits)
        versions.append(trained.version.version)
        table.add_row(trained.version.version, model,
                      f"{trained.valid['intent_accuracy']:.4f}",
                      f"{trained.valid['entity_f1']:.4f}", f"{test['intent_accuracy']:.4f}",
                      f"{test['entity_f1']:.4f}", f"{trained.fit_seconds:.1f}")
    console.print(table)
    champion, _ = ModelRegistry(settings).promote_best(DEFAULT_NAME, "valid_entity_f1",
                                                       versions=versions)
    console.print(f"champion: {DEFAULT_NAME} version {champion.version} ({champion.model_type})")
    base = f"http://{settings.serving.host}:{settings.serving.port}"
    return DemoOutcome(
        summary=f"{DEFAULT_NAME}@champion is {champion.model_type}",
        examples=[f"curl -X POST {base}/v1/nlu/parse -H 'content-type: application/json' "
                  "-d '{\"text\": \"가족끼리 태국 파타야 여행지 추천해줘\"}'"])
