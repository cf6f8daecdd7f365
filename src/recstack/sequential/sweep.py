"""Hyper-parameter sweeps: every combination a tracked training run, plus a comparison.

The two sweeps the travel team ran are presets: maximum length × batch size, and learning-rate
schedule × learning rate (0.001, 0.002, 0.005, 0.01). Each combination is a child MLflow run of
one parent sweep run; the comparison table (CSV) and plots (validation NDCG@10 by epoch,
seconds per epoch) are written to a folder and logged to the parent run.

The grid runs as an Optuna study (``GridSampler``): in this process on an in-memory storage by
default, or on a relational storage shared by worker processes (``storage``: SQLite on one
machine, PostgreSQL across machines; ``workers`` processes started here, and any number joining
from elsewhere with ``recstack sequential sweep-worker``; see ``recstack.sequential.sweep_worker``).
Optuna rather than Ray Tune: a pure-Python library with a small install (no cluster runtime,
object store or dashboard process), whose only coordination is the database recstack already
runs for the prediction log, and whose studies stay queryable afterwards.
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from recstack.data.catalog import load_dataset
from recstack.errors import ConfigError
from recstack.registry.tracking import start_run
from recstack.sequential.base import model_class
from recstack.sequential.pipeline import make_split
from recstack.settings import Settings

log = logging.getLogger(__name__)

SWEEP_PRESETS: dict[str, dict[str, list[str]]] = {
    "length-batch": {"max_length": ["50", "100", "200"], "batch_size": ["64", "128", "256"]},
    "scheduler-lr": {"scheduler": ["constant", "exponential", "multiplicative", "cosine",
                                   "onecycle", "plateau"],
                     "lr": ["0.001", "0.002", "0.005", "0.01"]},
}


@dataclass
class SweepResult:
    table: pd.DataFrame  # one row per combination
    curves: pd.DataFrame  # one row per (combination, epoch)
    out_dir: Path
    plots: list[Path]
    study_name: str = ""  # the Optuna study that ran the grid


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """``["lr=0.001,0.002", "batch_size=64"]`` → ``{"lr": [...], "batch_size": [...]}``."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise ConfigError(f"{item!r} is not key=v1,v2", field="--grid",
                              fix="write --grid lr=0.001,0.002")
        grid[key.strip()] = [v.strip() for v in values.split(",") if v.strip()]
    return grid


def run_sweep(model: str, dataset: str, grid: dict[str, list[str]], settings: Settings, *,
              base_params: dict[str, Any] | None = None, out_dir: Path | None = None,
              progress: bool = True, storage: str | None = None, workers: int = 1,
              study_name: str | None = None) -> SweepResult:
    """Train every combination of ``grid`` (on top of ``base_params``) on one shared split.

    Args:
        storage: an Optuna storage URL (``sqlite:///sweep.db``, ``postgresql://…``) that worker
            processes share; default in memory, or a SQLite file in ``out_dir`` when
            ``workers`` > 1.
        workers: worker processes to start (1: train in this process).
        study_name: the study's name in the storage (default: after the parent MLflow run);
            other workers join it by this name.
    """
    if not grid:
        raise ConfigError("the sweep grid is empty", field="--grid",
                          fix=f"give --grid key=v1,v2 or --preset ({', '.join(SWEEP_PRESETS)})")
    if workers < 1:
        raise ConfigError("workers must be at least 1", field="--workers", fix="--workers 2")
    combos = [dict(zip(grid, values, strict=True))
              for values in itertools.product(*grid.values())]
    for combo in combos:  # fail before any training on a bad name or value
        model_class(model).from_params({**(base_params or {}), **combo})
    split = make_split(load_dataset(dataset, settings), "leave-one-out")
    out_dir = out_dir or settings.home / "sweeps" / f"{model}-{split.dataset.name}"
    out_dir.mkdir(parents=True, exist_ok=True)
    if storage is None and workers > 1:
        storage = f"sqlite:///{out_dir.resolve() / 'optuna.db'}"
    import optuna

    from recstack.sequential.sweep_worker import (
        grid_sampler,
        open_storage,
        redact,
        run_worker,
    )

    store = open_storage(storage) if storage else optuna.storages.InMemoryStorage()
    with start_run(settings, f"sweep-{model}-{split.dataset.name}", kind="sweep",
                   tags={"model_type": model, "grid": str(grid)}) as parent:
        spec = {"model": model, "dataset": dataset, "split": "leave-one-out",
                "base_params": {k: str(v) for k, v in (base_params or {}).items()},
                "grid": [[k, list(v)] for k, v in grid.items()], "n_points": len(combos),
                "parent_run_id": parent.info.run_id}
        name = study_name or f"sweep-{model}-{split.dataset.name}-{parent.info.run_id[:12]}"
        try:
            study = optuna.create_study(study_name=name, storage=store, direction="maximize",
                                        sampler=grid_sampler(spec))
        except optuna.exceptions.DuplicatedStudyError as exc:
            raise ConfigError(f"the storage already holds a study {name!r}", field="--study",
                              fix="choose a new --study name") from exc
        study.set_user_attr("recstack_sweep", spec)
        import mlflow

        mlflow.set_tags({"optuna.study": name, "optuna.storage": redact(storage)})
        log.info("sweep study %r: %d combinations, %d worker(s)", name, len(combos), workers)
        if workers == 1:
            run_worker(store, name, settings, split=split, progress=progress)
        else:
            assert storage is not None
            _run_worker_processes(storage, name, settings, workers)
        trials = _wait_for_grid(study, len(combos))
        rows = [t.user_attrs["row"] for t in trials if "row" in t.user_attrs]
        curves = [point for t in trials for point in t.user_attrs.get("curve", [])]
        table = pd.DataFrame(rows).sort_values("valid_ndcg_at_10", ascending=False)
        curve_frame = pd.DataFrame(curves)
        table.to_csv(out_dir / "sweep.csv", index=False)
        curve_frame.to_csv(out_dir / "curves.csv", index=False)
        plots = plot_sweep(table, curve_frame, out_dir)
        for path in [out_dir / "sweep.csv", out_dir / "curves.csv", *plots]:
            mlflow.log_artifact(str(path), run_id=parent.info.run_id)
    return SweepResult(table=table, curves=curve_frame, out_dir=out_dir, plots=plots,
                       study_name=name)


def _run_worker_processes(storage: str, name: str, settings: Settings, workers: int) -> None:
    """Start ``workers`` worker processes on the study and wait for them all."""
    env = {**os.environ, "RECSTACK_HOME": str(settings.home)}  # the parent run's MLflow store
    command = [sys.executable, "-m", "recstack.sequential.sweep_worker", "--storage", storage,
               "--study", name]
    procs = [subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(workers)]
    failures = []
    for i, proc in enumerate(procs, start=1):
        _, err = proc.communicate()
        if proc.returncode != 0:
            failures.append(f"worker {i} exited with {proc.returncode}: {err.strip()[-800:]}")
    if failures:
        raise ConfigError("; ".join(failures), field="--workers",
                          fix="read the worker's error above; the finished trials are kept in "
                              "the study")


def _wait_for_grid(study: Any, n_points: int, poll_s: float = 2.0) -> list[Any]:
    """The grid's trials once every one has finished (workers elsewhere may still be on some).

    A trial whose worker died stops sending heartbeats and is marked failed, so this never
    waits forever on it.
    """
    import optuna

    while True:
        trials = [t for t in study.get_trials(deepcopy=False) if t.number < n_points]
        if len(trials) == n_points and all(t.state.is_finished() for t in trials):
            break
        optuna.storages.fail_stale_trials(study)
        time.sleep(poll_s)
    failed = [t.number for t in trials if t.state != optuna.trial.TrialState.COMPLETE]
    if len(failed) == n_points:
        raise ConfigError(f"every trial of sweep {study.study_name!r} failed", field="--grid",
                          fix="run one combination with `recstack sequential train` to see why")
    if failed:
        log.warning("sweep trials %s did not complete; the table leaves them out", failed)
    return trials


def plot_sweep(table: pd.DataFrame, curves: pd.DataFrame, out_dir: Path) -> list[Path]:
    """NDCG@10 by epoch per combination, and seconds per epoch per combination."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(8, 5))
    if not curves.empty:
        for label, group in curves.dropna(subset=["valid_ndcg_at_10"]).groupby("label"):
            ax.plot(group["epoch"], group["valid_ndcg_at_10"], marker=".", label=str(label))
    ax.set(xlabel="epoch", ylabel="validation NDCG@10 (full ranking)",
           title="NDCG@10 by epoch")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(out_dir / "ndcg_by_epoch.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, max(3, 0.35 * len(table) + 1)))
    ordered = table.sort_values("seconds_per_epoch")
    ax.barh(ordered["label"], ordered["seconds_per_epoch"], color="#4c72b0")
    ax.set(xlabel="seconds per epoch", title="training speed")
    fig.tight_layout()
    paths.append(out_dir / "seconds_per_epoch.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths
