"""Sweeps: one child MLflow run per combination, a comparison table and plots."""

import mlflow
import pytest

from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.errors import ConfigError
from recstack.sequential.sweep import SWEEP_PRESETS, parse_grid, run_sweep


def test_parse_grid_and_presets():
    assert parse_grid(["lr=0.001,0.002", "batch_size=64"]) == {
        "lr": ["0.001", "0.002"], "batch_size": ["64"]}
    assert SWEEP_PRESETS["scheduler-lr"]["lr"] == ["0.001", "0.002", "0.005", "0.01"]
    with pytest.raises(ConfigError, match="--grid"):
        parse_grid(["lr"])


def test_sweep_runs_every_combination_as_a_child_run(settings, tmp_path):
    generate_travel(TravelConfig(n_users=150, n_products=210, seed=2)).write(
        settings.data_home / "travel")
    base = {"max_length": 10, "hidden": 16, "epochs": 2, "patience": 0}
    result = run_sweep("sasrec", "travel", {"scheduler": ["constant", "cosine"],
                                            "lr": ["0.001", "0.01"]},
                       settings, base_params=base, out_dir=tmp_path / "sweep", progress=False)
    assert len(result.table) == 4
    assert set(result.table["label"]) == {f"scheduler={s}, lr={lr}" for s in ("constant", "cosine")
                                          for lr in ("0.001", "0.01")}
    assert len(result.curves) == 8  # 4 combinations × 2 epochs
    assert all(p.exists() and p.stat().st_size > 1000 for p in result.plots)
    runs = mlflow.search_runs(search_all_experiments=True,
                              filter_string="tags.`recstack.kind` = 'train'")
    assert runs["tags.mlflow.parentRunId"].notna().sum() == 4


def test_bad_grid_values_fail_before_training(settings):
    with pytest.raises(ConfigError, match="scheduler"):
        run_sweep("sasrec", "travel", {"scheduler": ["warp"]}, settings)
