"""MLflow tracking: an embedded SQLite backend under the recstack home, or a tracking server
(``RECSTACK_TRACKING__URI=http://host:5000``).

Every training or evaluation run goes through ``start_run``: it points MLflow at the configured
store, creates the experiment with its artifacts under the home directory (not ./mlruns), and
tags the run with what kind of run it is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from recstack.settings import Settings

log = logging.getLogger(__name__)

# mlflow phones home unless told not to; recstack is offline-first.
_OFFLINE_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1",
                "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def configure_mlflow(settings: Settings) -> Any:
    """Point mlflow at the settings' store and return an ``MlflowClient`` for it."""
    for key, value in _OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    import mlflow  # imported late: it is slow and nothing should connect at import time

    settings.ensure_home()
    # mlflow sets its loggers to INFO on import; its table-creation chatter is not for users.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return mlflow.MlflowClient(tracking_uri=settings.tracking_uri,
                               registry_uri=settings.tracking_uri)


def is_tracking_server(settings: Settings) -> bool:
    """Whether the tracking URI names an MLflow tracking server (``http(s)://``), not a
    database this process opens itself."""
    return settings.tracking_uri.lower().startswith(("http://", "https://"))


def ensure_experiment(settings: Settings, name: str | None = None) -> str:
    """The experiment's id, creating it if needed: with artifacts under the home directory, or
    on a tracking server where the server stores them."""
    client = configure_mlflow(settings)
    name = name or settings.tracking.experiment
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    if is_tracking_server(settings):
        # A tracking server keeps artifacts where it was told (--artifacts-destination) and
        # proxies them; a folder of this machine would be unreadable from every other one.
        return str(client.create_experiment(name))
    settings.artifact_root.mkdir(parents=True, exist_ok=True)
    return str(client.create_experiment(name, artifact_location=settings.artifact_root.as_uri()))


@contextmanager
def start_run(settings: Settings, run_name: str, *, kind: str,
              tags: dict[str, str] | None = None,
              parent_run_id: str | None = None) -> Iterator[Any]:
    """Open an MLflow run of ``kind`` (train, evaluate, sweep …) in the configured experiment.

    Inside an active run it is that run's child; ``parent_run_id`` names the parent explicitly,
    for a child started in another process (a sweep worker) while the parent stays open.
    """
    import mlflow

    experiment_id = ensure_experiment(settings)
    all_tags = {"recstack.kind": kind, **(tags or {})}
    nested = mlflow.active_run() is not None  # e.g. one training run of a sweep
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=all_tags,
                          nested=nested, parent_run_id=parent_run_id) as run:
        yield run


def log_params_flat(params: dict[str, Any], prefix: str = "") -> None:
    """Log a nested dict as ``a.b=value`` params (MLflow params are flat strings)."""
    import mlflow

    flat: dict[str, Any] = {}

    def walk(d: dict[str, Any], pre: str) -> None:
        for key, value in d.items():
            if isinstance(value, dict):
                walk(value, f"{pre}{key}.")
            else:
                flat[f"{pre}{key}"] = value

    walk(params, prefix)
    mlflow.log_params(flat)


def log_metrics_prefixed(metrics: Mapping[str, float], prefix: str,
                         **extra: float | None) -> None:
    """Log ``{prefix}_{name}`` for each finite metric (MLflow refuses NaN and inf), plus the
    ``extra`` values that are given (``fit_seconds=12.3``)."""
    import math

    import mlflow

    values = {f"{prefix}_{k}": float(v) for k, v in metrics.items() if math.isfinite(v)}
    values.update({k: float(v) for k, v in extra.items() if v is not None})
    mlflow.log_metrics(values)
