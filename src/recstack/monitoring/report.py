"""The HTML report of a monitoring pass: drift per feature, drift and performance over time,
alerts. Plots are PNG files beside ``index.html``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")  # files only; no display on servers
import matplotlib.pyplot as plt
from jinja2 import Environment

if TYPE_CHECKING:
    from recstack.monitoring.runner import MonitoringResult

_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Monitoring — {{ s.model_name }}</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
.drift{color:#b00;font-weight:bold}</style></head><body>
<h1>Monitoring: {{ s.model_name }}</h1>
<p>{{ s.n_predictions }} predictions, {{ s.n_labelled }} with labels; pass at {{ now }}.
Dataset drift in the last window: <b>{{ "yes" if s.dataset_drift else "no" }}</b>.</p>
<h2>Alerts</h2>
{% if alerts %}<table><tr><th>status</th><th>alert</th></tr>
{% for status, text in alerts %}<tr><td>{{ status }}</td>
<td style="text-align:left">{{ text }}</td></tr>
{% endfor %}</table>{% else %}<p>No alert in this pass.</p>{% endif %}
<h2>Drift per feature (last window)</h2>
<img src="drift_features.png" alt="drift per feature">
<table><tr><th>column</th><th>kind</th><th>method</th><th>score</th><th>threshold</th>
<th>drift</th></tr>{% for r in s.drift %}<tr><td>{{ r.column }}</td><td>{{ r.kind }}</td>
<td>{{ r.method }}</td><td>{{ "%.4g"|format(r.score) }}</td><td>{{ r.threshold }}</td>
<td class="{{ 'drift' if r.drifted }}">{{ "yes" if r.drifted else "no" }}</td></tr>{% endfor %}
</table>
{% if s.skipped_columns %}<p>Skipped: {% for c, why in s.skipped_columns.items() %}{{ c }}
({{ why }}){{ ", " if not loop.last }}{% endfor %}</p>{% endif %}
<h2>Drift over time</h2><img src="drift_over_time.png" alt="drift over time">
<h2>Performance over time</h2>
{% if has_performance %}<img src="performance.png" alt="performance over time">
{% else %}<p>No labels yet and no estimate.</p>{% endif %}
<h2>Metrics of the last window</h2><pre>{{ metrics }}</pre>
</body></html>"""


def _dates(values: pd.Series) -> np.ndarray:
    """Naive UTC datetime64[ns]: one unit for every line on an axis (mixed pandas units and
    time zones confuse matplotlib's date axis)."""
    return pd.to_datetime(values, utc=True).dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")


def _bar_drift(result: MonitoringResult, path: Path) -> None:
    cols = result.drift.columns if result.drift is not None else None
    fig, ax = plt.subplots(figsize=(8, 0.35 * max(len(cols) if cols is not None else 1, 4) + 1))
    if cols is not None and len(cols):
        # p-value methods drift below the threshold, distances above: plot "times the threshold"
        # so that > 1 always means drift.
        ratio = [(t / max(s, 1e-12)) if m in ("ks", "chisquare", "z") else s / t
                 for s, t, m in zip(cols["score"], cols["threshold"], cols["method"],
                                    strict=True)]
        ax.barh(cols["column"], ratio, color=["#c33" if d else "#4a4" for d in cols["drifted"]])
        ax.axvline(1.0, color="k", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("score relative to its threshold (> 1 = drift)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _drift_over_time(result: MonitoringResult, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 3.5))
    table = result.drift_by_window
    if len(table):
        share = table.groupby("window")["drifted"].mean()
        ax.plot(_dates(share.index.to_series()), share.to_numpy(), marker="o",
                label="share of drifted columns")
        for column, group in table.groupby("column"):
            if group["drifted"].any():
                ax.plot(_dates(group["window"]), group["drifted"].astype(float), ls=":",
                        marker=".",
                        label=f"{column} drifted")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _performance(result: MonitoringResult, path: Path) -> bool:
    perf, est = result.performance, result.estimated
    metrics = [c for c in perf.columns if c not in ("window", "n_labelled")]
    if not len(perf) and not len(est):
        return False
    fig, axes = plt.subplots(len(metrics), 1, figsize=(8, 2.6 * len(metrics)), squeeze=False,
                             sharex=True)
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        if len(perf):
            ax.plot(_dates(perf["window"]), perf[metric], marker="o",
                    label=f"{metric} (labels)")
        if len(est) and metric in est:
            ax.plot(_dates(est["window"]), est[metric], ls="--", marker="x",
                    label=f"{metric} (estimated, no labels)")
        ax.set_ylabel(metric)
        ax.legend(fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def write_report(result: MonitoringResult, out_dir: Path) -> Path:
    """Write ``index.html`` and its plots into ``out_dir``; returns the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _bar_drift(result, out_dir / "drift_features.png")
    _drift_over_time(result, out_dir / "drift_over_time.png")
    has_performance = _performance(result, out_dir / "performance.png")
    summary = result.summary()
    alerts = [(status, a.text()) for status, items in result.alerts.items() for a in items]
    html = Environment(autoescape=True).from_string(_TEMPLATE).render(
        s=summary, alerts=alerts, has_performance=has_performance,
        now=pd.Timestamp(result.now, unit="s", tz="UTC").isoformat(),
        metrics=json.dumps(summary["metrics"], indent=1))
    path = out_dir / "index.html"
    path.write_text(html)
    (out_dir / "job.json").write_text(result.job.model_dump_json(indent=1))
    return path
