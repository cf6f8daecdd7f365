"""Pictures and an HTML report for a fitted TreatmentRecommender.

Per patient: every option's interval (supported, blue) or bounds (unsupported, orange, hatched),
the target band and the recommendation. For the model: overlap (propensity histograms by the
option received), propensity calibration (reliability per option) and, when every potential
outcome is known (simulated data), coverage and width split by support.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment
from matplotlib.figure import Figure  # no pyplot: figures go to files, never to a window
from matplotlib.patches import Rectangle

from recstack.errors import DataError
from recstack.treatment.estimator import TreatmentRecommender
from recstack.treatment.evaluation import evaluate_cohort
from recstack.treatment.simulator import SimulatedCohort

SUPPORTED, UNSUPPORTED, TARGET = "#1f77b4", "#ff7f0e", "#2ca02c"


def plot_patient(preds: pd.DataFrame, target: tuple[float, float], title: str = "") -> Figure:
    """One patient's options: interval or bounds per option, coloured by support."""
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    ax.axhspan(*target, color=TARGET, alpha=0.12, label="target range")
    for x, row in enumerate(preds.to_dict(orient="records")):
        low, high, supported = float(row["lower"]), float(row["upper"]), bool(row["supported"])
        colour = SUPPORTED if supported else UNSUPPORTED
        width = 0.18 if supported else 0.32  # bounds drawn visibly wider
        ax.add_patch(Rectangle((x - width / 2, low), width, high - low, facecolor=colour,
                               alpha=0.35 if supported else 0.2, edgecolor=colour,
                               hatch=None if supported else "//"))
        if supported:
            ax.plot([x - width / 2, x + width / 2], [float(row["prediction"])] * 2,
                    color=colour, lw=2)
        if row["recommended"]:
            ax.plot(x, high, marker="v", color="black", ms=9)
            ax.annotate("recommended", (x, high), textcoords="offset points", xytext=(0, 8),
                        ha="center", fontsize=8)
    ax.set_xticks(range(len(preds)), [str(o) for o in preds["option"]])
    finite = preds[["lower", "upper"]].to_numpy()
    ax.set_ylim(min(finite.min(), target[0]) - 50, max(finite.max(), target[1]) + 150)
    ax.set_xlim(-0.6, len(preds) - 0.4)
    ax.set_xlabel("option")
    ax.set_ylabel("predicted outcome")
    ax.set_title(title or f"row {preds['row_id'].iloc[0]}", fontsize=10)
    handles = [Rectangle((0, 0), 1, 1, color=SUPPORTED, alpha=0.4),
               Rectangle((0, 0), 1, 1, facecolor=UNSUPPORTED, alpha=0.25, hatch="//"),
               Rectangle((0, 0), 1, 1, color=TARGET, alpha=0.15)]
    ax.legend(handles, ["supported: conformal interval", "unsupported: bounds", "target"],
              fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def plot_overlap(model: TreatmentRecommender) -> Figure:
    """Out-of-fold propensity of each option, split by whether the patient received it."""
    held = model.calibration_check_
    k = len(model.options_)
    fig = Figure(figsize=(3.2 * k, 2.8))
    axes = fig.subplots(1, k)
    for j, ax in enumerate(np.atleast_1d(axes)):
        e = held["propensity"][:, j]
        received = held["codes"] == j
        bins = np.linspace(0, 1, 26)
        ax.hist(e[~received], bins=bins, alpha=0.6, label="others", color="grey")
        ax.hist(e[received], bins=bins, alpha=0.6, label="received", color=SUPPORTED)
        ax.axvline(model.propensity_floor, color="red", lw=1, ls="--", label="floor")
        ax.set_yscale("log")
        ax.set_title(f"option {model.options_[j]}", fontsize=9)
        ax.set_xlabel("propensity")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_calibration(diagnostics: dict[str, Any]) -> Figure:
    """Reliability of the propensity model per option (held-out, out-of-fold)."""
    fig = Figure(figsize=(4.2, 4))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", ls=":")
    for entry in diagnostics["options"]:
        table = entry["reliability"]
        ax.plot([b["predicted"] for b in table], [b["observed"] for b in table], marker="o",
                ms=3, label=f"{entry['option']} (ECE {entry['propensity_ece']:.3f})")
    ax.set_xlabel("predicted propensity")
    ax.set_ylabel("observed share")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_coverage(evaluation: dict[str, Any], alpha: float) -> Figure:
    """Coverage per option, supported vs unsupported cells, against the 1 − α line."""
    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    per = evaluation["per_option"]
    x = np.arange(len(per))
    for offset, key, colour in ((-0.2, "coverage_supported", SUPPORTED),
                                (0.2, "coverage_unsupported", UNSUPPORTED)):
        values = [p[key] if p[key] is not None else np.nan for p in per]
        ax.bar(x + offset, values, width=0.4, color=colour, label=key.split("_")[1])
    ax.axhline(1 - alpha, color="black", ls="--", lw=1)
    ax.set_xticks(x, [str(p["option"]) for p in per])
    ax.set_ylim(0.5, 1.02)
    ax.set_ylabel("coverage")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def plot_decision_calibration(evaluation: dict[str, Any]) -> Figure:
    """Reliability of P(outcome in target) on supported cells against the true outcomes."""
    fig = Figure(figsize=(4.2, 4))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", ls=":")
    table = evaluation["p_in_target_reliability"]
    ax.plot([b["predicted"] for b in table], [b["observed"] for b in table], marker="o",
            color=SUPPORTED, label=f"ECE {evaluation['p_in_target_ece']:.3f}")
    ax.set_xlabel("predicted P(in target)")
    ax.set_ylabel("share truly in target")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def _png(fig: Figure, path: Path) -> str:
    fig.savefig(path, dpi=110)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return base64.b64encode(buffer.getvalue()).decode()


def write_report(model: TreatmentRecommender, frame: pd.DataFrame, out: Path, *,
                 title: str = "treatment model", potential: pd.DataFrame | None = None,
                 n_patients: int = 3) -> Path:
    """Write ``report.html`` and its PNGs to ``out``; coverage only when ``potential`` is given."""
    out.mkdir(parents=True, exist_ok=True)
    diagnostics = model.diagnostics()
    preds = model.predict(frame.head(max(n_patients, 1)))
    images = {"overlap": _png(plot_overlap(model), out / "overlap.png"),
              "calibration": _png(plot_calibration(diagnostics), out / "calibration.png")}
    patients = []
    for i, (row_id, part) in enumerate(preds.groupby("row_id", sort=False)):
        patients.append(_png(plot_patient(part, model.target, f"patient {row_id}"),
                             out / f"patient_{i}.png"))
    evaluation = None
    if potential is not None:
        evaluation = evaluate_cohort(model, _cohort(model, frame, potential))
        images["coverage"] = _png(plot_coverage(evaluation, model.alpha), out / "coverage.png")
        images["decisions"] = _png(plot_decision_calibration(evaluation),
                                   out / "decision_calibration.png")
        (out / "evaluation.json").write_text(json.dumps(evaluation, indent=2))
    (out / "diagnostics.json").write_text(json.dumps(diagnostics, indent=2))
    html = Environment(autoescape=True).from_string(_TEMPLATE).render(
        title=title, d=diagnostics, images=images, patients=patients, evaluation=evaluation)
    path = out / "report.html"
    path.write_text(html)
    return path


def _cohort(model: TreatmentRecommender, frame: pd.DataFrame,
            potential: pd.DataFrame) -> SimulatedCohort:
    """Line up a potential-outcome table (columns: id, one per option) with ``frame``."""
    if model.id_column in potential.columns:
        potential = potential.set_index(model.id_column)
        if model.id_column not in frame.columns:
            raise DataError("the potential outcomes have ids but the data do not",
                            field=model.id_column, fix="add the id column to the data")
        potential = potential.reindex(frame[model.id_column].to_numpy())
    potential.columns = [float(c) if model.ordered_ else c for c in potential.columns]
    missing = [o for o in model.options_ if o not in set(potential.columns)]
    if missing or len(potential) != len(frame) or potential.isna().any().any():
        raise DataError("potential outcomes do not line up with the data", field="potential",
                        fix="one row per data row (same ids) and one column per option")
    potential.index = frame.index
    return SimulatedCohort(factual=frame, potential=potential, policy="file")


_TEMPLATE = """<!doctype html><html><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}img{max-width:100%}.note{color:#555;font-size:.9em}</style></head><body>
<h1>{{ title }}</h1>
<p class="note">{{ d.support_rule }} Propensity floor {{ d.propensity_floor }}; intervals at
{{ (1 - d.alpha) * 100 }}%. Edge slopes: κ_min {{ '%.1f' % d.kappa_min }},
κ_max {{ '%.1f' % d.kappa_max if d.kappa_max is not none else '∞ (stated range)' }}.
Rows used: {{ d.n_train }} (cross-fitted: each calibrated by models that never saw it).</p>
<h2>Overlap</h2><table><tr><th>option</th><th>rows</th><th>share supported</th>
<th>mean propensity</th><th>share below floor</th><th>effective calibration size</th>
<th>propensity ECE</th><th>interval calibration</th></tr>
{% for o in d.options %}<tr><td>{{ o.option }}</td><td>{{ o.n_calibration }}</td>
<td>{{ '%.1f%%' % (100 * o.share_supported) }}</td><td>{{ '%.3f' % o.mean_propensity }}</td>
<td>{{ '%.1f%%' % (100 * o.share_below_floor) }}</td>
<td>{{ '%.0f' % o.effective_calibration_size }}</td><td>{{ '%.3f' % o.propensity_ece }}</td>
<td>{{ o.calibration }}{% if o.calibration == 'pooled' %} (too few patients for its own
guarantee: about {{ o.patients_needed_for_own_calibration }} more){% endif %}</td>
</tr>{% endfor %}</table>
<p class="note">Intervals: {{ d.interval }} ({{ 'residuals normalised by a learned scale
σ(x, t), calibrated per option' if d.interval == 'adaptive' else 'one radius per option' }}).</p>
<img src="data:image/png;base64,{{ images.overlap }}">
<h2>Propensity calibration</h2><img src="data:image/png;base64,{{ images.calibration }}">
{% if evaluation %}<h2>Coverage and decisions (known potential outcomes)</h2><table>
{% for key in ['coverage_supported', 'coverage_unsupported', 'median_width_supported',
'median_width_unsupported', 'factual_mae', 'counterfactual_mae', 'recommended_in_range',
'surgeons_in_range', 'oracle_in_range'] %}<tr><th>{{ key }}</th>
<td>{{ '%.3f' % evaluation[key] if evaluation[key] is not none else '–' }}</td></tr>
{% endfor %}</table><img src="data:image/png;base64,{{ images.coverage }}">
<h3>Is P(in target) calibrated?</h3><p class="note">The recommendation ranks options by the
probability of landing in the target range; on supported cells this compares it with the truth.
</p><img src="data:image/png;base64,{{ images.decisions }}">{% endif %}
<h2>Patients</h2>{% for p in patients %}<img src="data:image/png;base64,{{ p }}">{% endfor %}
</body></html>"""
