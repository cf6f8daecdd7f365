"""The matching system's step of ``recstack demo``: the thresholds rule and the gradient-boosted
matcher train on one small Geo-ER city (OSM–Foursquare, Pittsburgh), are scored on its test
pairs, and the better on validation serves ``POST /v1/places/match``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from recstack.registry.models import ModelRegistry
from recstack.settings import Settings
from recstack.system import DemoOutcome

DEMO_SET = "geo-er/osm_fsq/pit"  # the smallest set: seconds to train both matchers
DEMO_MODELS = ("thresholds", "gbm")


def run(settings: Settings, console: Console, quick: bool = False) -> DemoOutcome:
    from recstack.matching.data import read_pairs
    from recstack.matching.pipeline import DEFAULT_NAME, MatchTrainConfig, evaluate, train

    folder = settings.shared_data_dir / "place-matching" / DEMO_SET
    if not (folder / "train.txt.gz").is_file():
        console.print(f"matching skipped: no Geo-ER pairs at {folder} (set "
                      "RECSTACK_DATA__SHARED_DIR to the shared data folder)")
        return DemoOutcome(summary="skipped: no Geo-ER data")
    paths = {part: folder / f"{part}.txt.gz" for part in ("train", "valid", "test")}
    pairs = {part: read_pairs(path, require_labels=True) for part, path in paths.items()}
    table = Table(title=f"{DEFAULT_NAME} on {DEMO_SET}: match F1")
    for column in ("version", "matcher", "valid F1", "test precision", "test recall",
                   "test F1", "fit s"):
        table.add_column(column, justify="right")
    versions = []
    for model in DEMO_MODELS:
        with console.status(f"matching: training {model}"):
            trained = train(MatchTrainConfig(train=paths["train"], valid=paths["valid"],
                                             model=model), settings,
                            pairs=(pairs["train"], pairs["valid"]))
            assert trained.version is not None
            test = evaluate(f"{DEFAULT_NAME}/{trained.version.version}", paths["test"],
                            settings, pairs=pairs["test"])
        versions.append(trained.version.version)
        table.add_row(trained.version.version, model, f"{trained.valid['f1']:.4f}",
                      f"{test['precision']:.4f}", f"{test['recall']:.4f}", f"{test['f1']:.4f}",
                      f"{trained.fit_seconds:.1f}")
    console.print(table)
    champion, _ = ModelRegistry(settings).promote_best(DEFAULT_NAME, "valid_f1",
                                                       versions=versions)
    console.print(f"champion: {DEFAULT_NAME} version {champion.version} ({champion.model_type})")
    base = f"http://{settings.serving.host}:{settings.serving.port}"
    body = ('{"left": {"name": "Bellefield Presbyterian Church", "lat": 40.44364, '
            '"lon": -79.95673}, "right": {"name": "Bellefield Church", "lat": 40.4436, '
            '"lon": -79.95675, "address": "4001 5th Ave"}}')
    return DemoOutcome(summary=f"{DEFAULT_NAME}@champion is {champion.model_type}",
                       examples=[f"curl -X POST {base}/v1/places/match -H 'content-type: "
                                 f"application/json' -d '{body}'"])
