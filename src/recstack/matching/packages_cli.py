"""``recstack packages …``: rank package tours for a planner file, and write a synthetic
catalogue with planners built from real gazetteer names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from recstack.settings import get_settings

app = typer.Typer(help="Package tours ranked by how well they match a trip planner.",
                  no_args_is_help=True)
console = Console()


@app.command()
def recommend(planner: Annotated[Path, typer.Option(
                  help="planner JSON: {\"stops\": [{\"name\": …, \"lat\": …, \"lon\": …}]}")],
              packages: Annotated[Path | None, typer.Option(
                  help="package catalogue JSON; default RECSTACK_MATCHING__PACKAGES")] = None,
              model: Annotated[str | None, typer.Option(
                  help="matcher NAME[@ALIAS]; default RECSTACK_MATCHING__PACKAGE_MODEL, else "
                       "the default model")] = None,
              top: Annotated[int, typer.Option(min=1, help="packages shown")] = 5,
              as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False
              ) -> None:
    """Rank packages by match rate; each decision goes to the prediction log."""
    from recstack.matching.package_io import load_catalogue, read_catalogue, read_planner
    from recstack.matching.packages import decision_records, recommend_packages
    from recstack.matching.pipeline import load_bundle
    from recstack.matching.system import SPEC
    from recstack.monitoring.log import PredictionLog, PredictionRecord

    settings = get_settings()
    section = SPEC.settings_of(settings)
    stops = read_planner(planner)
    catalogue = read_catalogue(packages) if packages else load_catalogue(section.packages)
    ref = model or section.package_model or section.default_model
    bundle, info = load_bundle(str(ref), settings)
    result = recommend_packages(stops, catalogue, bundle, bundle, top=top,
                                select_threshold=section.package_select_threshold)
    with PredictionLog(settings) as log:
        for features, output in decision_records(result, len(stops), len(catalogue)):
            request_id = log.log(PredictionRecord(info.name, info.version, features, output))
    if as_json:
        console.print_json(json.dumps({"model": f"{info.name}/{info.version}",
                                       "request_id": request_id,
                                       "packages": [p.__dict__ for p in result.packages]},
                                      default=lambda o: o.__dict__, ensure_ascii=False))
        return
    table = Table(title=f"{len(catalogue):,} packages for {len(stops)} planned stops "
                        f"({info.name}/{info.version})")
    for column in ("rank", "package", "match rate", "matched stops", "unmatched planner stops"):
        table.add_column(column)
    for rank, p in enumerate(result.packages, start=1):
        table.add_row(str(rank), f"{p.package_id} {p.title}", f"{p.match_rate:.2f}",
                      ", ".join(f"{m.planner_name} → {m.package_name}" for m in p.matched),
                      ", ".join(stops[i].name for i in p.unmatched_planner_stops))
    console.print(table)
    console.print(f"logged as request {request_id}")


@app.command()
def synth(out: Annotated[Path, typer.Option(help="folder for packages.json and planners")],
          n_packages: Annotated[int, typer.Option(min=1)] = 200,
          n_planners: Annotated[int, typer.Option(min=0)] = 5,
          seed: int = 0) -> None:
    """A synthetic catalogue (Korean names) and planners (English names) from the gazetteer."""
    import numpy as np

    from recstack.matching.korean_pairs import GAZETTEER, gazetteer_places
    from recstack.matching.packages import planner_from_package, synthetic_packages

    places = gazetteer_places(get_settings().shared_data_dir / GAZETTEER, seed=seed)
    packages, stops_of = synthetic_packages(places, n_packages=n_packages, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "packages.json").write_text(json.dumps(
        {"packages": [p.to_dict() for p in packages]}, ensure_ascii=False, indent=1))
    rng = np.random.default_rng(seed)
    for k in range(n_planners):
        source = int(rng.integers(len(packages)))
        planner = planner_from_package(stops_of[source], places, rng)
        (out / f"planner-{k}.json").write_text(json.dumps(
            {"derived_from": packages[source].id,
             "stops": [{"name": s.name, **({"lat": s.lat, "lon": s.lon}
                                          if s.has_coordinates else {})} for s in planner]},
            ensure_ascii=False, indent=1))
    console.print(f"{len(packages)} packages and {n_planners} planners → {out}")
