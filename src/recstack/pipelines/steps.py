"""Steps every system's pipeline shares: champion/challenger promotion and a monitoring pass.

Both return small JSON summaries; a system's pipeline module wraps them with its own model name
and metric.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recstack.errors import NotFoundError
from recstack.pipelines.base import Summary, TaskInput

if TYPE_CHECKING:
    from recstack.settings import Settings


def promote(settings: Settings, model_name: str, metric: str, *,
            higher_is_better: bool = True, versions: list[str] | None = None) -> Summary:
    """``promote_best`` on a validation metric: the best version (among ``versions`` if given)
    becomes ``champion`` and the runner-up ``challenger``."""
    from recstack.registry.models import ModelRegistry

    champion, challenger = ModelRegistry(settings).promote_best(
        model_name, metric, higher_is_better=higher_is_better, versions=versions)
    return {"model": model_name, "metric": metric,
            "champion": {"version": champion.version, metric: _number(champion.tags[metric])},
            "challenger": None if challenger is None else {
                "version": challenger.version, metric: _number(challenger.tags[metric])}}


def monitor(settings: Settings, run: TaskInput, model_name: str, *, task: str,
            features: list[str] | None = None, window: str = "1D",
            send_alerts: bool = True) -> Summary:
    """A monitoring pass over the interval's predictions of ``model_name``, with alerts.

    The drift reference is the training frame the champion was registered with. An interval in
    which the service logged no prediction is skipped (with the reason), not failed: a quiet
    night is not an error.
    """
    from recstack.monitoring.reference import model_reference
    from recstack.monitoring.runner import MonitorJob, run_monitoring

    reference = model_reference(f"{model_name}@champion", settings)
    job = MonitorJob(model_name=model_name, task=task, features=features, window=window,
                     since=run.start_ts.timestamp(), now=run.end_ts.timestamp(),
                     out_dir=run.workdir(settings) / f"monitor-{model_name}")
    try:
        result = run_monitoring(job, settings, reference=reference, send_alerts=send_alerts)
    except NotFoundError as exc:  # no prediction logged in the interval
        return {"model": model_name, "skipped": str(exc)}
    summary = result.summary()
    return {"model": model_name, "n_predictions": summary["n_predictions"],
            "n_labelled": summary["n_labelled"], "dataset_drift": summary["dataset_drift"],
            "drifted": [row["column"] for row in summary["drift"] if row["drifted"]],
            "alerts": summary["alerts"], "report": summary["report"]}


def _number(value: Any) -> float | str:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
