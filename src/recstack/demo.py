"""The main job: every system through the lifecycle on synthetic data, then the service.

Travel: the catalogue goes to the feature store; next-item recommenders train (Meta-BERT4Rec
reads city and category from the store), register, evaluate, and the best on validation becomes
champion. Clinic: simulated lens-size patients' measurements go to the feature store; the
treatment recommender trains from it point-in-time, is registered and scored against every
potential outcome. Monitoring: a simulated deployment where a new device shifts ACD.
``recstack demo`` runs this and then serves the champions; ``--no-serve`` stops before serving,
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
# Item metadata that comes from the feature store rather than the catalogue file.
STORE_ITEM_FEATURES = {"meta-bert4rec": ["product_metadata:city", "product_metadata:category"]}
TREATMENT_PATIENTS = 3000
SIMILAR_ITEMS_MODEL = "travel-similar-items"
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
    _publish_catalogue(settings, console)
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
                                    register_as=DEMO_MODEL,
                                    item_features=STORE_ITEM_FEATURES.get(model_type)),
                        settings, split=split)
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
    run_embeddings(settings, console, quick=quick)
    run_treatment(settings, console, quick=quick)
    run_monitoring_scenario(settings, console, quick=quick)
    return DemoResult(champion=champion, versions=ranked, table=table)


def _publish_catalogue(settings: Settings, console: Console) -> None:
    import pandas as pd

    from recstack.sequential.item_features import publish_catalogue

    products = pd.read_csv(settings.data_home / "travel" / "products.csv")
    written = publish_catalogue(products, settings)
    console.print(f"feature store: {sum(written.values()):,} products' metadata materialised "
                  f"({', '.join(written)})")


def run_embeddings(settings: Settings, console: Console, quick: bool = False) -> None:
    """Travel "viewed together": Prod2Vec and Meta-Prod2Vec on click sessions; the better on
    validation serves ``/v1/items/{id}/similar``."""
    from recstack.embeddings.pipeline import EmbeddingTrainConfig
    from recstack.embeddings.pipeline import train as train_embeddings

    table = Table(title=f"{SIMILAR_ITEMS_MODEL}: next view in a session (validation, full ranking)")
    for column in ("version", "model", "HR@10", "NDCG@10", "cold HR@10", "fit s"):
        table.add_column(column, justify="right")
    results = []
    for model_type in ("prod2vec", "meta-prod2vec"):
        with console.status(f"embeddings: training {model_type}"):
            trained = train_embeddings(EmbeddingTrainConfig(
                model=model_type, dataset="travel", params={"epochs": 2} if quick else {},
                register_as=SIMILAR_ITEMS_MODEL), settings, progress=False)
        assert trained.version is not None
        results.append((trained.valid["hr_at_10"], trained.version))
        table.add_row(trained.version.version, model_type, f"{trained.valid['hr_at_10']:.4f}",
                      f"{trained.valid['ndcg_at_10']:.4f}",
                      f"{trained.valid.get('cold_hr_at_10', float('nan')):.4f}",
                      f"{trained.fit_seconds:.1f}")
    console.print(table)
    best = max(results, key=lambda r: r[0])[1]
    ModelRegistry(settings).promote(SIMILAR_ITEMS_MODEL, best.version, "champion")
    console.print(f"champion: {SIMILAR_ITEMS_MODEL} version {best.version} ({best.model_type})")


def run_treatment(settings: Settings, console: Console, quick: bool = False) -> dict[str, object]:
    """Clinic: measurements → feature store → fit (point-in-time) → register → evaluate."""
    from recstack.features.store import FeatureStore
    from recstack.treatment.evaluation import evaluate_cohort
    from recstack.treatment.feature_views import ICL_VIEW, publish_cohort
    from recstack.treatment.pipeline import FitConfig, fit
    from recstack.treatment.simulator import simulate

    n = 800 if quick else TREATMENT_PATIENTS
    cohort = simulate(n, policy="nomogram", seed=0)
    store = FeatureStore(settings)
    try:
        labels = publish_cohort(store, cohort.factual, seed=0)
        store.materialize(views=[ICL_VIEW])
    finally:
        store.close()
    path = settings.data_home / "clinic" / "icl_labels.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    labels.to_csv(path, index=False)
    with console.status(f"treatment: fitting lens-size recommender on {n:,} patients"):
        result = fit(FitConfig(data=path, store_features=[f"{ICL_VIEW}:*"],
                               params={"n_folds": 3, "max_iter": 60} if quick else {}),
                     settings)
    held_out = evaluate_cohort(result.model, simulate(1000, policy="nomogram", seed=1))
    table = Table(title="icl-size: 1,000 new simulated patients (every potential vault known)")
    for column in ("coverage supported", "coverage unsupported", "recommended in range",
                   "surgeons in range", "oracle"):
        table.add_column(column, justify="right")
    table.add_row(*(f"{held_out[k]:.3f}" if held_out[k] is not None else "-" for k in (
        "coverage_supported", "coverage_unsupported", "recommended_in_range",
        "surgeons_in_range", "oracle_in_range")))
    console.print(table)
    if result.version is not None:
        console.print(f"registered {result.version.name} version {result.version.version} "
                      f"(aliases: {', '.join(result.version.aliases) or 'none'})")
    return held_out


def run_monitoring_scenario(settings: Settings, console: Console, quick: bool = False) -> None:
    """Monitoring: 22 simulated weeks; a device reading ACD deeper arrives in week 6."""
    from recstack.treatment.monitoring_scenario import run_scenario

    folder = settings.home / "reports" / "monitoring-scenario"
    with console.status("monitoring: simulating 22 weeks of surgeries and weekly passes"):
        result = run_scenario(settings, model="standin" if quick else "treatment",
                              out_dir=folder)
    drift, mae = result.first_week("feature drift"), result.first_week("vault MAE high")
    console.print(f"monitoring scenario: new ACD device in week {result.device_week}; drift "
                  f"alert in week {drift}, performance alert in week {mae} (labels arrive "
                  f"{result.label_delay_weeks} weeks late); report: {folder / 'scenario.html'}")


def example_requests(settings: Settings, user_id: str) -> list[str]:
    base = f"http://{settings.serving.host}:{settings.serving.port}"
    return [
        f"curl {base}/health",
        f"curl -X POST {base}/v1/recommendations -H 'content-type: application/json' "
        f"-d '{{\"user_id\": \"{user_id}\", \"k\": 5}}'",
        f"curl -X POST {base}/v1/recommendations -H 'content-type: application/json' "
        f"-d '{{\"user_id\": \"{user_id}\", \"k\": 5, \"filters\": {{\"category\": \"hotel\"}}}}'",
        f"curl -X POST {base}/v1/treatment/recommend -H 'content-type: application/json' "
        f"-d '{{\"patient_id\": \"p000-000005\"}}'",
        f"curl -X POST {base}/v1/features/online -H 'content-type: application/json' -d "
        f"'{{\"entities\": [{{\"item_id\": \"p00001\"}}], "
        f"\"features\": [\"product_metadata:city\"]}}'",
        f"curl '{base}/v1/items/p00001/similar?k=5'",
        f"curl {base}/v1/monitoring/summary",
        f"open {base}/docs",
    ]
