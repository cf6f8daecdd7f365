"""Distributed sweeps: two worker processes share one Optuna study on SQLite or PostgreSQL.

Each test starts two real worker processes (``python -m recstack.sequential.sweep_worker``) on a
2 × 2 grid of tiny SASRec runs and checks what a user relies on: every combination trained
exactly once, by both workers between them, each as a child run of the one parent sweep run,
and the comparison table and plots as a one-process sweep writes them.
"""

from __future__ import annotations

import mlflow
import pytest
from tests.postgres import postgres_dsn

from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.errors import ConfigError
from recstack.sequential.sweep import run_sweep
from recstack.sequential.sweep_worker import open_storage, storage_url

GRID = {"scheduler": ["constant", "cosine"], "lr": ["0.001", "0.01"]}
# Two epochs per combination: each trial takes seconds, longer than the gap between the two
# workers' start-ups, so both workers get trials.
BASE = {"max_length": 10, "hidden": 16, "epochs": 2, "patience": 0, "threads": 1}


def _sweep_on(storage: str, settings, tmp_path):
    generate_travel(TravelConfig(n_users=300, n_products=210, seed=2)).write(
        settings.data_home / "travel")
    return run_sweep("sasrec", "travel", GRID, settings, base_params=BASE,
                     out_dir=tmp_path / "sweep", progress=False, storage=storage, workers=2)


def _check(result, storage: str) -> None:
    import optuna

    table = result.table
    expected = {f"scheduler={s}, lr={lr}" for s in GRID["scheduler"] for lr in GRID["lr"]}
    assert sorted(table["label"]) == sorted(expected)  # every combination, none twice
    assert table["worker"].nunique() == 2, table[["label", "worker"]]  # both workers trained
    assert len(result.curves) == 4 * BASE["epochs"]
    assert all(p.exists() and p.stat().st_size > 1000 for p in result.plots)
    assert (result.out_dir / "sweep.csv").exists()

    study = optuna.load_study(study_name=result.study_name, storage=open_storage(storage))
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 4
    assert len({tuple(sorted(t.params.items())) for t in done}) == 4
    # a worker that asked after the grid was taken trained nothing (pruned, no child run)
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in study.trials if t.number >= 4)

    parents = mlflow.search_runs(search_all_experiments=True,
                                 filter_string="tags.`recstack.kind` = 'sweep'")
    assert len(parents) == 1
    children = mlflow.search_runs(search_all_experiments=True,
                                  filter_string="tags.`recstack.kind` = 'train'")
    assert len(children) == 4
    assert set(children["tags.mlflow.parentRunId"]) == {parents["run_id"].iloc[0]}
    assert set(children["run_id"]) == set(table["run_id"])
    assert parents["status"].iloc[0] == "FINISHED"


@pytest.mark.slow
def test_two_workers_share_a_sqlite_study(settings, tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    _check(_sweep_on(storage, settings, tmp_path), storage)


@pytest.fixture()
def postgres_url() -> str:
    """A fresh database on the server RECSTACK_TEST_POSTGRES_DSN names (.ci/run starts one)."""
    # its own database: Optuna's tables (and its alembic_version) stay apart from other tests'
    dsn = postgres_dsn("DROP DATABASE IF EXISTS recstack_sweep_test WITH (FORCE)",
                       "CREATE DATABASE recstack_sweep_test")
    return dsn.rsplit("/", 1)[0] + "/recstack_sweep_test"


@pytest.mark.slow
def test_two_workers_share_a_postgres_study(settings, tmp_path, postgres_url):
    _check(_sweep_on(postgres_url, settings, tmp_path), postgres_url)


def test_storage_urls_and_errors(tmp_path):
    assert storage_url("postgresql://u@h:5432/d") == "postgresql+psycopg://u@h:5432/d"
    assert storage_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(ConfigError, match="--storage") as error:
        open_storage("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(error.value) and "Connection refused" in str(error.value)
