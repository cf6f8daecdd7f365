"""The embeddings system's step of ``recstack demo``: travel "viewed together".

Prod2Vec and Meta-Prod2Vec train on click sessions; the better on validation serves
``GET /v1/items/{id}/similar``.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from recstack.registry.models import ModelRegistry
from recstack.settings import Settings
from recstack.system import DemoOutcome

SIMILAR_ITEMS_MODEL = "travel-similar-items"


def run(settings: Settings, console: Console, quick: bool = False) -> DemoOutcome:
    from recstack.embeddings.pipeline import EmbeddingTrainConfig, train

    table = Table(title=f"{SIMILAR_ITEMS_MODEL}: next view in a session (validation, full ranking)")
    for column in ("version", "model", "HR@10", "NDCG@10", "cold HR@10", "fit s"):
        table.add_column(column, justify="right")
    versions = []
    for model_type in ("prod2vec", "meta-prod2vec"):
        with console.status(f"embeddings: training {model_type}"):
            trained = train(EmbeddingTrainConfig(
                model=model_type, dataset="travel", params={"epochs": 2} if quick else {},
                register_as=SIMILAR_ITEMS_MODEL), settings, progress=False)
        assert trained.version is not None
        versions.append(trained.version.version)
        table.add_row(trained.version.version, model_type, f"{trained.valid['hr_at_10']:.4f}",
                      f"{trained.valid['ndcg_at_10']:.4f}",
                      f"{trained.valid.get('cold_hr_at_10', float('nan')):.4f}",
                      f"{trained.fit_seconds:.1f}")
    console.print(table)
    best, _ = ModelRegistry(settings).promote_best(SIMILAR_ITEMS_MODEL, "valid_hr_at_10",
                                                   versions=versions)
    console.print(f"champion: {SIMILAR_ITEMS_MODEL} version {best.version} ({best.model_type})")
    base = f"http://{settings.serving.host}:{settings.serving.port}"
    return DemoOutcome(summary=f"{SIMILAR_ITEMS_MODEL}@champion is {best.model_type}",
                       examples=[f"curl '{base}/v1/items/p00001/similar?k=5'"])
