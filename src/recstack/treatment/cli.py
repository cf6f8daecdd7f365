"""``recstack treatment …`` commands: thin wrappers over the library functions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Treatment recommendation: fit, predict, report, monitoring scenario.",
                  no_args_is_help=True)
console = Console()
ModelRef = Annotated[str, typer.Option("--model", help="NAME, NAME@ALIAS or NAME/VERSION")]


def _features(text: str | None) -> list[str] | None:
    return [f.strip() for f in text.split(",") if f.strip()] if text else None


@app.command()
def simulate(out: Annotated[Path, typer.Option(help="CSV of the factual data a clinic has")],
             patients: Annotated[int, typer.Option("--patients", "-n")] = 3000,
             policy: Annotated[str | None, typer.Option(
                 help="nomogram, ata or random; default the family's")] = None,
             family: Annotated[str, typer.Option(
                 help="clinic family: reference, heteroscedastic, asymmetric, interactions, "
                      "other_device, small_heteroscedastic or distant (docs/treatment.md)")
             ] = "reference",
             seed: int = 0,
             potential_out: Annotated[Path | None, typer.Option(
                 help="CSV of every potential vault (evaluation only)")] = None,
             to_feature_store: Annotated[bool, typer.Option(
                 help="write the measurements (pre-op and follow-up, with times) to the feature "
                      "store and only the label rows to OUT")] = False) -> None:
    """Write simulated ICL patients (and, optionally, every potential outcome)."""
    from recstack.treatment.simulator import simulate as run_simulation

    cohort = run_simulation(patients, policy=policy, seed=seed, family=family)
    out.parent.mkdir(parents=True, exist_ok=True)
    if to_feature_store:
        from recstack.features.store import FeatureStore
        from recstack.settings import get_settings
        from recstack.treatment.feature_views import ICL_VIEW, publish_cohort

        store = FeatureStore(get_settings())
        labels = publish_cohort(store, cohort.factual, seed=seed)
        written = store.materialize(views=[ICL_VIEW])
        store.close()
        labels.to_csv(out, index=False)
        console.print(f"{patients:,} patients' measurements → feature view {ICL_VIEW} "
                      f"({sum(written.values()):,} online records); labels → {out}\n"
                      f"fit with: --store-features '{ICL_VIEW}:*'")
    else:
        cohort.factual.to_csv(out, index=False)
        console.print(f"{patients:,} patients ({policy} policy, seed {seed}) → {out}")
    if potential_out is not None:
        potential = cohort.potential.copy()
        potential.insert(0, "patient_id", cohort.factual["patient_id"])
        potential.to_csv(potential_out, index=False)
        console.print(f"potential outcomes → {potential_out}")


@app.command()
def fit(data: Annotated[Path, typer.Option(help="CSV or parquet table")],
        treatment: Annotated[str, typer.Option(help="treatment column")] = "icl_size_mm",
        outcome: Annotated[str, typer.Option(help="outcome column")] = "vault_um",
        target: Annotated[str, typer.Option(help="target range LOW:HIGH")] = "250:750",
        features: Annotated[str | None, typer.Option(
            help="comma-separated feature columns; default every numeric column")] = None,
        alpha: Annotated[float, typer.Option(help="miscoverage: 0.1 → 90% intervals")] = 0.1,
        propensity_floor: Annotated[float, typer.Option(
            help="cells with a smaller propensity are unsupported")] = 0.01,
        monotone: Annotated[str, typer.Option(
            help="increasing, decreasing or none (response to an ordered option)")
        ] = "increasing",
        id_column: Annotated[str, typer.Option(help="row id column")] = "patient_id",
        interval: Annotated[str, typer.Option(
            help="adaptive (narrow where the outcome is predictable), cqr (conformalised "
                 "quantile regression of the error) or constant (one radius per option)")
        ] = "adaptive",
        name: Annotated[str | None, typer.Option(
            help="registered model name; default icl-size or <file>-treatment")] = None,
        store_features: Annotated[str | None, typer.Option(
            help="comma-separated feature-store features (view:feature or view:*) joined "
                 "point-in-time to DATA's rows (patient_id, event_timestamp, treatment, "
                 "outcome) instead of DATA's own columns")] = None,
        seed: int = 0) -> None:
    """Fit the recommender, track it in MLflow and register a version."""
    from recstack.settings import get_settings
    from recstack.treatment.pipeline import FitConfig, parse_target
    from recstack.treatment.pipeline import fit as run_fit

    config = FitConfig(data=data, treatment=treatment, outcome=outcome,
                       target=parse_target(target), features=_features(features), alpha=alpha,
                       propensity_floor=propensity_floor,
                       monotone=None if monotone.lower() == "none" else monotone,
                       id_column=id_column, register_as=name, random_state=seed,
                       store_features=_features(store_features),
                       params={"interval": interval})
    with console.status("fitting outcome and propensity models"):
        result = run_fit(config, get_settings())
    table = Table(title=f"support per option (floor {config.propensity_floor})")
    for column in ("option", "rows", "share supported", "propensity ECE", "intervals"):
        table.add_column(column)
    for entry in result.diagnostics["options"]:
        calibrated = entry.get("calibration", "own")
        if calibrated == "pooled":
            calibrated = (f"pooled: about {entry['patients_needed_for_own_calibration']} more "
                          "patients for its own")
        table.add_row(str(entry["option"]), str(entry["n_calibration"]),
                      f"{entry['share_supported']:.1%}", f"{entry['propensity_ece']:.3f}",
                      calibrated)
    console.print(table)
    if result.version is not None:
        console.print(f"registered {result.version.name} version {result.version.version} "
                      f"(aliases: {', '.join(result.version.aliases) or 'none'}) "
                      f"in {result.fit_seconds:.1f}s")


@app.command()
def predict(model: ModelRef,
            data: Annotated[Path, typer.Option(help="CSV or parquet of patients")],
            out: Annotated[Path, typer.Option(help="CSV: one row per (row, option)")]) -> None:
    """Predict every option for every row; write intervals, support and the recommendation."""
    from recstack.settings import get_settings
    from recstack.treatment.pipeline import predict as run_predict

    preds = run_predict(model, data, out, get_settings())
    rows = preds["row_id"].nunique()
    console.print(f"{rows:,} rows × {len(preds) // max(rows, 1)} options → {out} "
                  f"({preds['supported'].mean():.0%} of cells supported)")


@app.command()
def report(model: ModelRef,
           data: Annotated[Path, typer.Option(help="CSV or parquet of patients")],
           out: Annotated[Path, typer.Option(help="folder for report.html and PNGs")],
           potential: Annotated[Path | None, typer.Option(
               help="CSV of every potential outcome (simulated data): adds coverage")] = None,
           patients: Annotated[int, typer.Option(help="per-patient figures")] = 3) -> None:
    """HTML report: overlap diagnostics, propensity calibration, coverage, per-patient plots."""
    from recstack.settings import get_settings
    from recstack.tables import read_table
    from recstack.treatment.pipeline import load_model
    from recstack.treatment.report import write_report

    fitted, info = load_model(model, get_settings())
    frame = read_table(data, field="--data")
    truth = read_table(potential, field="--potential") if potential else None
    path = write_report(fitted, frame, out, title=f"{info.name} v{info.version}", potential=truth,
                        n_patients=patients)
    console.print(f"report → {path}")


@app.command("scenario")
def scenario(model: Annotated[str, typer.Option(help="treatment or standin (fast)")
                              ] = "treatment",
             out: Annotated[Path | None, typer.Option(help="report folder")] = None) -> None:
    """Simulated deployment: a new device reads ACD 0.3 mm deeper from week 6; weekly passes.

    The drift alert fires in the device's first week, the performance alerts once its patients'
    labels arrive (docs/treatment.md).
    """
    from recstack.errors import ConfigError
    from recstack.settings import get_settings
    from recstack.treatment.monitoring_scenario import run_scenario

    if model not in ("treatment", "standin"):
        raise ConfigError(f"unknown scenario model {model!r}", field="--model",
                          fix="use treatment or standin")
    settings = get_settings()
    folder = out or settings.monitoring.resolved_store_path(settings.home).parent / "scenario"
    with console.status("simulating 22 weeks of surgeries and weekly monitoring passes"):
        result = run_scenario(settings, model=model,  # type: ignore[arg-type]
                              out_dir=folder)
    table = Table(title=f"ACD device from week {result.device_week}; labels "
                        f"{result.label_delay_weeks} weeks late")
    table.add_column("week", justify="right")
    table.add_column("alerts sent")
    for week, rules in result.alerts_by_week.items():
        table.add_row(str(week), ", ".join(rules) or "-")
    console.print(table)
    console.print(f"report: {folder / 'scenario.html'}")
