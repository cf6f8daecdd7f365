"""The DAG files under a real Airflow 3, in its own virtualenv (``make airflow``).

Airflow is never a dependency of recstack: these tests run its interpreter in a subprocess
with an isolated AIRFLOW_HOME on SQLite, and skip (saying how to create the virtualenv) where
it is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from recstack.registry.models import ModelRegistry
from recstack.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("RECSTACK_AIRFLOW_VENV", ROOT / ".venv-airflow"))
AIRFLOW_BIN = VENV / "bin"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (AIRFLOW_BIN / "airflow").exists(),
                       reason=f"no Airflow virtualenv at {VENV}: run `make airflow` (or set "
                              "RECSTACK_AIRFLOW_VENV)"),
]


def _env(airflow_home: Path, recstack_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RECSTACK_"))}
    env.update({"AIRFLOW_HOME": str(airflow_home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "RECSTACK_HOME": str(recstack_home),
                "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1",
                # The DAGs import this checkout's recstack, whatever the venv installed.
                "PYTHONPATH": str(ROOT / "src")})
    return env


def _run(args: list[str], env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, check=False)


def test_every_dag_file_imports_and_wires_every_pipeline(tmp_path):
    from recstack.pipelines import pipelines_of
    from recstack.systems import installed_systems

    script = ("import json; from airflow.models.dagbag import DagBag; b = DagBag('dags'); "
              "print(json.dumps({'errors': {k: str(v) for k, v in b.import_errors.items()}, "
              "'dags': {d: [t.task_id for t in b.dags[d].topological_sort()] "
              "for d in b.dag_ids}}))")
    done = _run([str(AIRFLOW_BIN / "python"), "-c", script],
                _env(tmp_path / "airflow", tmp_path / "home"), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    bag = json.loads(done.stdout.strip().splitlines()[-1])
    assert bag["errors"] == {}
    expected = {f"recstack_{p.name}": [t.name for t in p.tasks]
                for p in pipelines_of(installed_systems()).values()}
    assert bag["dags"] == expected


def test_the_clinic_dag_runs_end_to_end_with_its_data_interval(tmp_path, clinic):
    _, labels = clinic
    home = labels.parent
    env = _env(tmp_path / "airflow", home)
    migrate = _run([str(AIRFLOW_BIN / "airflow"), "db", "migrate"], env, timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    conf = json.dumps({"labels": str(labels), "quick": True})
    done = _run([str(AIRFLOW_BIN / "airflow"), "dags", "test", "recstack_treatment",
                 "2025-10-06", "-c", conf], env, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "state=success" in output, output[-5000:]
    # The weekly data interval before the logical date reached the tasks: their work folder is
    # named after its start, and the version they trained is the champion.
    assert (home / "pipelines" / "treatment" / "2025-09-29" / "train_labels.csv").is_file()
    champion = ModelRegistry(Settings(home=home)).get("icl-size", alias="champion")
    assert champion.version == "1" and float(champion.tags["valid_mae"]) > 0
