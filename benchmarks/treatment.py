"""Treatment recommendation across clinic families: recstack vs its constant-radius self, EconML
and MAPIE.

Side by side in one run, for each clinic family (``recstack.treatment.simulator.FAMILIES``: the
reference clinic, noise growing away from the ideal size, an asymmetric response, interactions
and older patients, another device and nomogram, a small heteroscedastic clinic, and a distant
clinic combining them) and seed: fit on the family's factual data, then score every
(patient, option) cell of a fresh cohort of the same family against its true potential vault.

- recstack: ``TreatmentRecommender`` (weighted split conformal on residuals normalised by a
  learned scale, per option, where supported; bounds elsewhere).
- recstack_constant: the same with ``interval="constant"``: one radius per option, the method
  before issue 20; the adaptive intervals' widths are compared with it.
- recstack_cqr: the same with ``interval="cqr"``: conformalised quantile regression of the
  outcome model's error (its 5% and 95% quantiles give a centre and a half-width) in place of
  the mean-absolute-error scale.
- EconML: ``LinearDML`` with a discrete (multi-arm) treatment and boosted nuisance models; its
  ``effect_interval`` (vs the most common size) is added to a boosted outcome model of that size.
  EconML gives effect intervals, not outcome intervals: the reference size's own cell is a point.
- MAPIE: ``SplitConformalRegressor`` on one pooled boosted model with the size as a feature; plain
  (unweighted) split conformal, so it ignores who received which size.

Every method's predictions and intervals are projected onto vault ≥ 0 µm (recstack does this
itself from its physiological ranges), so no one gains from that physical fact alone. Coverage of
every method is split by recstack's support flag, so each method is judged on the
same cells. Decision quality is the share of patients whose recommended size truly vaults in
250–750 µm, beside the surgeons' own choice and the oracle. Targets (issue 20), on every family:
coverage ≥ 90% at the 90% level for supported and unsupported cells; recommended-in-range ≥ 90%
(or within 2 points of the oracle where the oracle is below 92%); median supported width at least
25% narrower than recstack_constant on the heteroscedastic families. ``targets`` in the JSON says
which hold.

    .venv/bin/python benchmarks/treatment.py [--families reference distant ...] [--train N]
                                             [--test 1000] [--seeds 2]

Writes ``benchmarks/results/treatment.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from recstack.treatment.estimator import TreatmentRecommender
from recstack.treatment.simulator import (
    FAMILIES,
    ICL_SIZES_MM,
    SimulatedCohort,
    decision_ceiling,
    simulate,
)

RESULT = Path(__file__).parent / "results" / "treatment.json"
TARGET = (250.0, 750.0)
ALPHA = 0.1


def _boosting() -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, max_leaf_nodes=15,
                                         random_state=0)


def run_recstack(train: SimulatedCohort, test: SimulatedCohort, interval: str = "adaptive"
                 ) -> dict[str, np.ndarray]:
    model = TreatmentRecommender(target=TARGET, alpha=ALPHA, interval=interval).fit(train.factual)
    preds = model.predict(test.factual)
    k = len(ICL_SIZES_MM)
    shaped = {c: preds[c].to_numpy().reshape(-1, k)
              for c in ("prediction", "lower", "upper", "supported", "recommended",
                        "p_in_target")}
    return shaped


def run_recstack_constant(train: SimulatedCohort, test: SimulatedCohort
                          ) -> dict[str, np.ndarray]:
    return run_recstack(train, test, interval="constant")


def run_recstack_cqr(train: SimulatedCohort, test: SimulatedCohort) -> dict[str, np.ndarray]:
    return run_recstack(train, test, interval="cqr")


def run_mapie(train: SimulatedCohort, test: SimulatedCohort) -> dict[str, np.ndarray]:
    from mapie.regression import SplitConformalRegressor

    features = train.feature_columns
    x = train.factual[[*features, "icl_size_mm"]].to_numpy()
    y = train.factual["vault_um"].to_numpy()
    rng = np.random.default_rng(0)
    fit_rows = rng.random(len(y)) < 0.7
    mapie = SplitConformalRegressor(_boosting(), confidence_level=1 - ALPHA, prefit=False)
    mapie.fit(x[fit_rows], y[fit_rows])
    mapie.conformalize(x[~fit_rows], y[~fit_rows])
    columns: dict[str, list[np.ndarray]] = {"prediction": [], "lower": [], "upper": []}
    for size in ICL_SIZES_MM:
        cells = test.factual[features].assign(icl_size_mm=size).to_numpy()
        point, intervals = mapie.predict_interval(cells)
        columns["prediction"].append(point)
        columns["lower"].append(intervals[:, 0, 0])
        columns["upper"].append(intervals[:, 1, 0])
    out = {name: np.column_stack(values) for name, values in columns.items()}
    out["recommended"] = _closest_to_centre(out["prediction"])
    return out


def run_econml(train: SimulatedCohort, test: SimulatedCohort) -> dict[str, np.ndarray]:
    from econml.dml import LinearDML

    features = train.feature_columns
    x = train.factual[features].to_numpy()
    y = train.factual["vault_um"].to_numpy()
    arm = np.searchsorted(np.asarray(ICL_SIZES_MM), train.factual["icl_size_mm"].to_numpy())
    reference = int(np.bincount(arm).argmax())  # the most common size is the control
    dml = LinearDML(model_y=_boosting(),
                    model_t=HistGradientBoostingClassifier(max_iter=100, random_state=0),
                    discrete_treatment=True, categories=list(range(len(ICL_SIZES_MM))), cv=3,
                    random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EconML warns about its own defaults; not ours to fix
        dml.fit(y, arm, X=x)
    base = _boosting().fit(x[arm == reference], y[arm == reference])
    x_test = test.factual[features].to_numpy()
    mu_ref = base.predict(x_test)
    columns: dict[str, list[np.ndarray]] = {"prediction": [], "lower": [], "upper": []}
    for k in range(len(ICL_SIZES_MM)):
        if k == reference:
            effect, low, high = (np.zeros(len(x_test)),) * 3
        else:
            effect = dml.effect(x_test, T0=reference, T1=k)
            low, high = dml.effect_interval(x_test, T0=reference, T1=k, alpha=ALPHA)
        columns["prediction"].append(mu_ref + effect)
        columns["lower"].append(mu_ref + low)
        columns["upper"].append(mu_ref + high)
    out = {name: np.column_stack(values) for name, values in columns.items()}
    out["recommended"] = _closest_to_centre(out["prediction"])
    return out


def _physical(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A vault is never negative: clip predictions and interval ends at 0 µm."""
    return {k: np.maximum(v, 0.0) if k in ("prediction", "lower", "upper") else v
            for k, v in out.items()}


def _closest_to_centre(prediction: np.ndarray) -> np.ndarray:
    best = np.abs(prediction - 0.5 * (TARGET[0] + TARGET[1])).argmin(axis=1)
    return np.eye(prediction.shape[1], dtype=bool)[best]


def score(out: dict[str, np.ndarray], test: SimulatedCohort,
          supported: np.ndarray) -> dict[str, Any]:
    truth = test.potential[list(ICL_SIZES_MM)].to_numpy()
    factual = np.isclose(test.factual["icl_size_mm"].to_numpy()[:, None],
                         np.asarray(ICL_SIZES_MM)[None, :])
    covered = (truth >= out["lower"]) & (truth <= out["upper"])
    width = out["upper"] - out["lower"]
    in_range = (truth >= TARGET[0]) & (truth <= TARGET[1])
    error = np.abs(out["prediction"] - truth)
    extra: dict[str, Any] = {}
    if "p_in_target" in out:
        from recstack.treatment.evaluation import reliability

        extra["p_in_target_ece"] = reliability(out["p_in_target"][supported],
                                               in_range[supported])[1]
    return {
        "coverage_supported": float(covered[supported].mean()),
        "coverage_unsupported": float(covered[~supported].mean()) if (~supported).any()
        else None,
        "median_width_supported": float(np.median(width[supported])),
        "median_width_unsupported": float(np.median(width[~supported]))
        if (~supported).any() else None,
        "factual_mae": float(error[factual].mean()),
        "counterfactual_mae": float(error[~factual].mean()),
        "recommended_in_range": float((in_range & out["recommended"]).any(axis=1).mean()),
        "surgeons_in_range": float(in_range[factual].mean()),
        "oracle_in_range": float(in_range.any(axis=1).mean()),
        "share_supported": float(supported.mean()), **extra}


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    methods = {"recstack": run_recstack, "recstack_constant": run_recstack_constant,
               "recstack_cqr": run_recstack_cqr, "econml_lineardml": run_econml,
               "mapie_pooled": run_mapie}
    rows: list[dict[str, Any]] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("fitting", total=len(args.families) * args.seeds * len(methods))
        for name in args.families:
            family = FAMILIES[name]
            n_train = args.train or family.n_train
            for seed in range(args.seeds):
                train = simulate(n_train, family=family, seed=100 + seed)
                test = simulate(args.test, family=family, seed=200 + seed)
                outputs, seconds = {}, {}
                for method_name, method in methods.items():
                    started = time.perf_counter()
                    outputs[method_name] = _physical(method(train, test))
                    seconds[method_name] = time.perf_counter() - started
                    progress.advance(task)
                supported = outputs["recstack"]["supported"].astype(bool)
                ceiling = decision_ceiling(args.test, family=family, seed=200 + seed,
                                           target=TARGET)
                for method, out in outputs.items():
                    rows.append({"family": name, "n_train": n_train, "seed": seed,
                                 "method": method, "fit_predict_seconds": seconds[method],
                                 **score(out, test, supported), "bayes_in_range": ceiling})
    summary = summarise(rows)
    return {"rows": rows, "summary": summary, "targets": check_targets(summary)}


def check_targets(summary: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue 20's targets per family, from the means over seeds."""
    by = {(s["family"], s["method"]): s for s in summary}
    families: dict[str, Any] = {}
    for name in sorted({s["family"] for s in summary}):
        ours, before = by[(name, "recstack")], by.get((name, "recstack_constant"))
        cqr = by.get((name, "recstack_cqr"))
        oracle = ours["oracle_in_range"]
        decision_target = 0.90 if oracle >= 0.92 else oracle - 0.02
        entry: dict[str, Any] = {
            "coverage_supported": ours["coverage_supported"] >= 0.90,
            "coverage_unsupported": ours["coverage_unsupported"] is None
            or ours["coverage_unsupported"] >= 0.90,
            "recommended_in_range": ours["recommended_in_range"] >= decision_target,
            "decision_target": decision_target,
            # Not a target of the issue: how far from the best any rule can do in expectation.
            "recommended_vs_bayes_ceiling": ours["recommended_in_range"]
            - ours["bayes_in_range"]}
        if before is not None:
            narrower = 1.0 - ours["median_width_supported"] / before["median_width_supported"]
            entry["width_reduction_vs_constant"] = narrower
            if FAMILIES[name].heteroscedastic:
                entry["width_25pct_narrower"] = narrower >= 0.25
            if cqr is not None:  # not a target: what CQR in place of the scale gives
                entry["cqr_width_reduction_vs_constant"] = (
                    1.0 - cqr["median_width_supported"] / before["median_width_supported"])
        families[name] = entry
    met = all(v for entry in families.values() for k, v in entry.items()
              if isinstance(v, bool))
    return {"all_met": met, "families": families}


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean over seeds per (family, method)."""
    keys = sorted({(r["family"], r["method"]) for r in rows}, key=lambda k: (k[0], k[1]))
    out = []
    for family, method in keys:
        group = [r for r in rows if r["family"] == family and r["method"] == method]
        entry: dict[str, Any] = {"family": family, "method": method, "seeds": len(group)}
        for metric in group[0]:
            if metric in ("family", "method", "seed"):
                continue
            values = [g[metric] for g in group if g[metric] is not None]
            entry[metric] = float(np.mean(values)) if values else None
            if metric.startswith("coverage") and values:
                entry[f"{metric}_min"] = float(np.min(values))
        out.append(entry)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=None,
                        help="patients to fit on; default each family's n_train")
    parser.add_argument("--test", type=int, default=1000, help="fresh patients to score")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    console = Console()
    started = time.perf_counter()
    result = run(args, console)
    result.update({"benchmark": "treatment", "alpha": ALPHA, "target": TARGET,
                   "n_train": args.train, "n_test": args.test, "seeds": args.seeds,
                   "families": args.families, "python": platform.python_version(),
                   "seconds": time.perf_counter() - started})
    table = Table(title=f"ICL size, 90% intervals ({args.test} test patients, {args.seeds} "
                        "seeds; coverage split by recstack's support flag)")
    for column in ("family", "method", "cov. supported", "cov. unsupported", "width sup.",
                   "width unsup.", "CF MAE", "rec. in range", "surgeons", "Bayes", "oracle",
                   "s"):
        table.add_column(column, justify="right")
    fmt = lambda v, f="{:.3f}": "–" if v is None else f.format(v)  # noqa: E731
    for s in result["summary"]:
        table.add_row(s["family"], s["method"], fmt(s["coverage_supported"]),
                      fmt(s["coverage_unsupported"]), fmt(s["median_width_supported"], "{:.0f}"),
                      fmt(s["median_width_unsupported"], "{:.0f}"),
                      fmt(s["counterfactual_mae"], "{:.0f}"), fmt(s["recommended_in_range"]),
                      fmt(s["surgeons_in_range"]), fmt(s["bayes_in_range"]),
                      fmt(s["oracle_in_range"]),
                      fmt(s["fit_predict_seconds"], "{:.1f}"))
    console.print(table)
    console.print(f"issue 20 targets all met: {result['targets']['all_met']}")
    for name, entry in result["targets"]["families"].items():
        failed = [k for k, v in entry.items() if v is False]
        console.print(f"  {name}: {'ok' if not failed else 'NOT met: ' + ', '.join(failed)}"
                      f" (width vs constant: {entry.get('width_reduction_vs_constant', 0):+.0%})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    console.print(f"→ {args.out}")


if __name__ == "__main__":
    main()
