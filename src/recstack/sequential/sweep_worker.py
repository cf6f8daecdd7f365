"""A sweep worker: trains grid points of an Optuna study until the grid is done.

``recstack sequential sweep --storage URL --workers N`` creates the study (one per sweep, named
after its parent MLflow run), starts N of these workers and waits; more workers, on this or other
machines, join the same study with::

    recstack sequential sweep-worker --storage URL --study NAME

Optuna's ``GridSampler`` hands each trial number its own grid point (trial numbers are unique
across processes: the relational storage assigns them), so no combination is trained twice; a
trial numbered past the grid (a worker that asked while the last points were still running)
stops its worker without training. Each trial trains as an MLflow child run of the sweep's parent
run and leaves its comparison row and per-epoch curve on the trial (``user_attrs``), from which
the coordinator builds the table and plots. Optuna is imported here only, when a sweep runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import socket
import sys
import warnings
from typing import Any

from recstack.data.splits import Split
from recstack.errors import ConfigError, RecstackError
from recstack.settings import Settings, get_settings

log = logging.getLogger(__name__)
HEARTBEAT_S = 20  # a trial whose worker has been silent for GRACE_S is marked failed
GRACE_S = 60


def storage_url(url: str) -> str:
    """SQLAlchemy's URL for ``url``: ``postgresql://`` uses psycopg 3 (recstack's driver)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def open_storage(url: str) -> Any:
    """An Optuna relational storage on ``url`` (SQLite file or PostgreSQL), with heartbeats.

    Raises:
        ConfigError: when the database cannot be reached, naming the URL and how to fix it.
    """
    import optuna
    import sqlalchemy.exc

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    full = storage_url(url)
    # SQLite: several worker processes write to one file; wait for the lock, never fail on it
    engine = {"connect_args": {"timeout": 60}} if full.startswith("sqlite") else {
        "pool_pre_ping": True}
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(full, engine_kwargs=engine,
                                              heartbeat_interval=HEARTBEAT_S,
                                              grace_period=GRACE_S)
    except (sqlalchemy.exc.SQLAlchemyError, ModuleNotFoundError, ValueError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigError(f"the sweep storage {redact(url)} cannot be opened: {reason}",
                          field="--storage",
                          fix="give sqlite:///path/sweep.db on one machine, or the URL of a "
                              "running PostgreSQL across machines (start one with `pg_ctl -D "
                              "DATADIR start`; see docs/deployment.md)") from exc


def redact(url: str | None) -> str:
    """The storage URL without its password (for errors and the parent run's tags)."""
    if not url:
        return "memory"
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def grid_sampler(spec: dict[str, Any]) -> Any:
    """The same grid order in every process: GridSampler shuffles with a fixed seed."""
    import optuna

    return optuna.samplers.GridSampler({k: v for k, v in spec["grid"]}, seed=0)


def run_worker(storage: Any, study_name: str, settings: Settings, *, split: Split | None = None,
               progress: bool = False) -> int:
    """Train grid points of ``study_name`` until none is left; returns how many this one trained.

    Args:
        storage: a URL or an ``open_storage`` result.
        study_name: the study the coordinator created.
        settings: where the MLflow runs go (the parent run's tracking store).
        split: the split to train on, when the caller has it (else loaded once here).
        progress: show training progress bars.
    """
    import optuna

    from recstack.data.catalog import load_dataset
    from recstack.sequential.pipeline import TrainConfig, make_split, train

    storage = open_storage(storage) if isinstance(storage, str) else storage
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError as exc:
        raise ConfigError(f"no sweep study {study_name!r} in the storage", field="--study",
                          fix="use the study name `recstack sequential sweep` printed") from exc
    spec = study.user_attrs["recstack_sweep"]
    study.sampler = grid_sampler(spec)
    split = split or make_split(load_dataset(spec["dataset"], settings), spec["split"])
    n_points = spec["n_points"]
    worker = f"{socket.gethostname()}:{os.getpid()}"
    trained = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal trained
        if trial.number >= n_points:  # every grid point is taken: nothing left for this worker
            trial.study.stop()
            raise optuna.TrialPruned("the grid is done")
        combo = {key: trial.suggest_categorical(key, values) for key, values in spec["grid"]}
        label = ", ".join(f"{k}={v}" for k, v in combo.items())
        log.info("sweep trial %d/%d on %s: %s", trial.number + 1, n_points, worker, label)
        result = train(TrainConfig(model=spec["model"], dataset=spec["dataset"],
                                   params={**spec["base_params"], **combo}),
                       settings, register=False, split=split, progress=progress,
                       parent_run_id=spec["parent_run_id"])
        row, curve = comparison_row(combo, label, result)
        trained += 1
        trial.set_user_attr("row", {**row, "trial": trial.number, "worker": worker})
        trial.set_user_attr("curve", curve)
        return float(row["valid_ndcg_at_10"])

    study.optimize(objective, gc_after_trial=False)
    return trained


def comparison_row(combo: dict[str, str], label: str,
                   result: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One trained combination's row of the comparison table, and its per-epoch curve."""
    history = getattr(result.bundle.model, "history_", None)
    epochs = history.epochs if history is not None else []
    row = {**combo, "label": label, "run_id": result.run_id,
           "valid_ndcg_at_10": result.valid.metrics["ndcg_at_10"],
           "valid_hr_at_10": result.valid.metrics["hr_at_10"],
           "best_epoch": history.best_epoch if history is not None else 0,
           "epochs": len(epochs), "fit_seconds": result.fit_seconds,
           "seconds_per_epoch": (sum(e.seconds for e in epochs) / len(epochs)
                                 if epochs else float("nan"))}
    curve = [{"label": label, "epoch": e.epoch, "loss": e.loss, "seconds": e.seconds,
              "lr": e.lr, "valid_ndcg_at_10": e.valid.get("ndcg_at_10")} for e in epochs]
    return row, curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recstack.sequential.sweep_worker",
                                     description="Join a sweep study and train its grid points.")
    parser.add_argument("--storage", required=True, help="sqlite:///file.db or postgresql://…")
    parser.add_argument("--study", required=True, help="the study name the sweep printed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        trained = run_worker(args.storage, args.study, get_settings())
    except RecstackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log.info("worker %s:%d trained %d grid point(s)", socket.gethostname(), os.getpid(),
             trained)
    return 0


if __name__ == "__main__":
    sys.exit(main())
