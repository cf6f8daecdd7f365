"""The treatment system's step of ``recstack demo``: the clinic, then its monitoring.

Simulated lens-size patients' measurements go to the feature store; the recommender fits from
it point-in-time, is registered and scored against every potential outcome. Then 22 simulated
weeks in which a new device reads ACD deeper from week 6 exercise drift and performance alerts.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from recstack.settings import Settings
from recstack.system import DemoOutcome

TREATMENT_PATIENTS = 3000


def run(settings: Settings, console: Console, quick: bool = False) -> DemoOutcome:
    held_out = fit_clinic(settings, console, quick=quick)
    run_monitoring_scenario(settings, console, quick=quick)
    base = f"http://{settings.serving.host}:{settings.serving.port}"
    return DemoOutcome(
        summary=f"icl-size: recommended in range {held_out['recommended_in_range']:.3f}",
        examples=[f"curl -X POST {base}/v1/treatment/recommend -H 'content-type: "
                  "application/json' -d '{\"patient_id\": \"p000-000005\"}'",
                  f"curl {base}/v1/monitoring/summary"])


def fit_clinic(settings: Settings, console: Console, quick: bool = False) -> dict[str, object]:
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
