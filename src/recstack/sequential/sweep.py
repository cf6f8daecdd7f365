"""Hyper-parameter sweeps: every combination a tracked training run, plus a comparison.

The two sweeps the travel team ran are presets: maximum length × batch size, and learning-rate
schedule × learning rate (0.001, 0.002, 0.005, 0.01). Each combination is a child MLflow run of
one parent sweep run; the comparison table (CSV) and plots (validation NDCG@10 by epoch,
seconds per epoch) are written to a folder and logged to the parent run.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from recstack.data.catalog import load_dataset
from recstack.errors import ConfigError
from recstack.registry.tracking import start_run
from recstack.sequential.base import model_class
from recstack.sequential.pipeline import TrainConfig, make_split, train
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
              progress: bool = True) -> SweepResult:
    """Train every combination of ``grid`` (on top of ``base_params``) on one shared split."""
    if not grid:
        raise ConfigError("the sweep grid is empty", field="--grid",
                          fix=f"give --grid key=v1,v2 or --preset ({', '.join(SWEEP_PRESETS)})")
    combos = [dict(zip(grid, values, strict=True))
              for values in itertools.product(*grid.values())]
    for combo in combos:  # fail before any training on a bad name or value
        model_class(model).from_params({**(base_params or {}), **combo})
    split = make_split(load_dataset(dataset, settings), "leave-one-out")
    out_dir = out_dir or settings.home / "sweeps" / f"{model}-{split.dataset.name}"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, curves = [], []
    with start_run(settings, f"sweep-{model}-{split.dataset.name}", kind="sweep",
                   tags={"model_type": model, "grid": str(grid)}) as parent:
        for i, combo in enumerate(combos, start=1):
            label = ", ".join(f"{k}={v}" for k, v in combo.items())
            log.info("sweep %d/%d: %s", i, len(combos), label)
            result = train(TrainConfig(model=model, dataset=dataset,
                                       params={**(base_params or {}), **combo}),
                           settings, register=False, split=split, progress=progress)
            history = getattr(result.bundle.model, "history_", None)
            epochs = history.epochs if history is not None else []
            rows.append({**combo, "label": label, "run_id": result.run_id,
                         "valid_ndcg_at_10": result.valid.metrics["ndcg_at_10"],
                         "valid_hr_at_10": result.valid.metrics["hr_at_10"],
                         "best_epoch": history.best_epoch if history is not None else 0,
                         "epochs": len(epochs), "fit_seconds": result.fit_seconds,
                         "seconds_per_epoch": (sum(e.seconds for e in epochs) / len(epochs)
                                               if epochs else float("nan"))})
            curves += [{"label": label, "epoch": e.epoch, "loss": e.loss, "seconds": e.seconds,
                        "lr": e.lr, "valid_ndcg_at_10": e.valid.get("ndcg_at_10")} for e in epochs]
        table = pd.DataFrame(rows).sort_values("valid_ndcg_at_10", ascending=False)
        curve_frame = pd.DataFrame(curves)
        table.to_csv(out_dir / "sweep.csv", index=False)
        curve_frame.to_csv(out_dir / "curves.csv", index=False)
        plots = plot_sweep(table, curve_frame, out_dir)
        import mlflow

        for path in [out_dir / "sweep.csv", out_dir / "curves.csv", *plots]:
            mlflow.log_artifact(str(path), run_id=parent.info.run_id)
    return SweepResult(table=table, curves=curve_frame, out_dir=out_dir, plots=plots)


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
