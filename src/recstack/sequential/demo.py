"""The sequential system's step of ``recstack demo``: travel next-item recommenders.

The catalogue goes to the feature store; popularity, item-kNN, SASRec and Meta-BERT4Rec (which
reads city and category from the store) train, register and are scored on held-out last clicks;
the best on validation becomes ``champion`` and the runner-up ``challenger``.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from recstack.registry.models import ModelRegistry
from recstack.settings import Settings
from recstack.system import DemoOutcome

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
# Item metadata that comes from the feature store rather than the catalogue file.
STORE_ITEM_FEATURES = {"meta-bert4rec": ["product_metadata:city", "product_metadata:category"]}
QUICK = {"epochs": 2, "max_minutes": 0.3}  # --quick: smoke-test budgets


def run(settings: Settings, console: Console, quick: bool = False) -> DemoOutcome:
    """Train and register every candidate on the travel data; promote the best by validation."""
    import pandas as pd

    from recstack.data.catalog import load_dataset
    from recstack.sequential.item_features import publish_catalogue
    from recstack.sequential.pipeline import TrainConfig, evaluate, load_bundle, make_split, train

    with console.status("loading the synthetic travel data (generated on first use)"):
        dataset = load_dataset("travel", settings)
        split = make_split(dataset, "leave-one-out")
    console.print(f"travel data: {dataset.n_users:,} users, {dataset.n_items:,} products, "
                  f"{dataset.n_interactions:,} clicks")
    written = publish_catalogue(pd.read_csv(settings.data_home / "travel" / "products.csv"),
                                settings)
    console.print(f"feature store: {sum(written.values()):,} products' metadata materialised "
                  f"({', '.join(written)})")
    table = Table(title=f"{DEMO_MODEL}: full-ranking metrics (leave-one-out)")
    for column in ("version", "model", "valid NDCG@10", "test HR@10", "test NDCG@10", "fit s"):
        table.add_column(column, justify="right")
    versions = []
    for model_type, params in DEMO_CANDIDATES.items():
        console.print(f"training [bold]{model_type}[/bold]")
        if quick and params:
            params = {**params, **QUICK}
        trained = train(TrainConfig(model=model_type, dataset="travel", params=dict(params),
                                    register_as=DEMO_MODEL,
                                    item_features=STORE_ITEM_FEATURES.get(model_type)),
                        settings, split=split)
        assert trained.version is not None
        versions.append(trained.version.version)
        test = evaluate(f"{DEMO_MODEL}/{trained.version.version}", settings, split=split)
        table.add_row(trained.version.version, model_type,
                      f"{trained.valid.metrics['ndcg_at_10']:.4f}",
                      f"{test.metrics['hr_at_10']:.4f}", f"{test.metrics['ndcg_at_10']:.4f}",
                      f"{trained.fit_seconds:.2f}")
    console.print(table)
    # Promote on validation, never on test.
    champion, _ = ModelRegistry(settings).promote_best(DEMO_MODEL, "valid_ndcg_at_10",
                                                       versions=versions)
    console.print(f"champion: {DEMO_MODEL} version {champion.version} ({champion.model_type})")
    bundle, _ = load_bundle(f"{DEMO_MODEL}@champion", settings)
    user = next(iter(bundle.histories))
    base = f"http://{settings.serving.host}:{settings.serving.port}"
    return DemoOutcome(
        summary=f"{DEMO_MODEL}@champion is {champion.model_type} (version {champion.version})",
        examples=[
            f"curl -X POST {base}/v1/recommendations -H 'content-type: application/json' "
            f"-d '{{\"user_id\": \"{user}\", \"k\": 5}}'",
            f"curl -X POST {base}/v1/recommendations -H 'content-type: application/json' "
            f"-d '{{\"user_id\": \"{user}\", \"k\": 5, \"filters\": {{\"category\": \"hotel\"}}}}'",
            f"curl -X POST {base}/v1/features/online -H 'content-type: application/json' -d "
            f"'{{\"entities\": [{{\"item_id\": \"p00001\"}}], "
            f"\"features\": [\"product_metadata:city\"]}}'",
        ])
