"""The main job: synthetic travel data → train baselines → register → evaluate → promote.

``recstack demo`` runs this and then serves the champion; ``--no-serve`` stops after training,
for scripts and tests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from recstack.data.catalog import load_dataset
from recstack.registry.models import ModelRegistry, ModelVersionInfo
from recstack.sequential.pipeline import TrainConfig, evaluate, make_split, train
from recstack.settings import Settings

log = logging.getLogger(__name__)
DEMO_MODEL = "travel-next-item"
# The travel team's comparison: baselines, a left-to-right transformer, and Meta-BERT4Rec with
# the product's city and category beside the item. Neural budgets keep the demo to minutes.
_NEURAL = {"max_length": 50, "epochs": 40, "eval_every": 2, "patience": 3, "max_minutes": 1.5}
DEMO_CANDIDATES: dict[str, dict[str, object]] = {
    "popularity": {},
    "itemknn": {},
    "sasrec": dict(_NEURAL),
    "meta-bert4rec": {**_NEURAL, "metadata_fields": "city,category"},
}
QUICK = {"epochs": 2, "max_minutes": 0.3}  # --quick: smoke-test budgets


@dataclass
class DemoResult:
    champion: ModelVersionInfo
    versions: list[ModelVersionInfo]
    table: Table


def run_demo(settings: Settings, console: Console | None = None,
             quick: bool = False) -> DemoResult:
    """Train and register every candidate on the travel data; promote the best by validation."""
    console = console or Console()
    with console.status("loading the synthetic travel data (generated on first use)"):
        dataset = load_dataset("travel", settings)
        split = make_split(dataset, "leave-one-out")
    console.print(f"travel data: {dataset.n_users:,} users, {dataset.n_items:,} products, "
                  f"{dataset.n_interactions:,} clicks")
    table = Table(title=f"{DEMO_MODEL}: full-ranking metrics (leave-one-out)")
    for column in ("version", "model", "valid NDCG@10", "test HR@10", "test NDCG@10",
                   "fit s"):
        table.add_column(column, justify="right")
    results = []
    for model_type, params in DEMO_CANDIDATES.items():
        console.print(f"training [bold]{model_type}[/bold]")
        if quick and params:
            params = {**params, **QUICK}
        trained = train(TrainConfig(model=model_type, dataset="travel", params=dict(params),
                                    register_as=DEMO_MODEL), settings, split=split)
        assert trained.version is not None
        test = evaluate(f"{DEMO_MODEL}/{trained.version.version}", settings, split=split)
        results.append((trained.valid.metrics["ndcg_at_10"], trained.version))
        table.add_row(trained.version.version, model_type,
                      f"{trained.valid.metrics['ndcg_at_10']:.4f}",
                      f"{test.metrics['hr_at_10']:.4f}", f"{test.metrics['ndcg_at_10']:.4f}",
                      f"{trained.fit_seconds:.2f}")
    # Promote on validation, never on test.
    ranked = [v for _, v in sorted(results, key=lambda r: r[0], reverse=True)]
    registry = ModelRegistry(settings)
    champion = registry.promote(DEMO_MODEL, ranked[0].version, "champion")
    if len(ranked) > 1:
        registry.promote(DEMO_MODEL, ranked[1].version, "challenger")
    console.print(table)
    console.print(f"champion: {DEMO_MODEL} version {champion.version} ({champion.model_type})")
    return DemoResult(champion=champion, versions=ranked, table=table)


def example_requests(settings: Settings, user_id: str) -> list[str]:
    base = f"http://{settings.serving.host}:{settings.serving.port}"
    return [
        f"curl {base}/health",
        f"curl -X POST {base}/v1/recommendations -H 'content-type: application/json' "
        f"-d '{{\"user_id\": \"{user_id}\", \"k\": 5}}'",
        f"curl -X POST {base}/v1/recommendations -H 'content-type: application/json' "
        f"-d '{{\"user_id\": \"{user_id}\", \"k\": 5, \"filters\": {{\"category\": \"hotel\"}}}}'",
        f"open {base}/docs",
    ]
