"""``recstack monitor …`` end to end in a subprocess: run, summary, labels, alerts, errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recstack.monitoring import PredictionLog, PredictionRecord

RECSTACK = [sys.executable, "-m", "recstack"]


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECSTACK_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true",
           "COLUMNS": "160", "OMP_NUM_THREADS": "1"}
    return subprocess.run(RECSTACK + args, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.fixture()
def logged(settings, tmp_path):
    rng = np.random.default_rng(0)
    with PredictionLog(settings) as log:
        for i in range(200):
            log.log(PredictionRecord("toy", "1", {"x": float(rng.normal(1.0)), "city": "Osaka"},
                                     {"prediction": 1.0}, request_id=f"r{i}",
                                     timestamp=1.75e9 + i))
    reference = tmp_path / "reference.csv"
    pd.DataFrame({"x": rng.normal(0, 1, 2000), "city": rng.choice(["Osaka", "Kyoto"], 2000)}
                 ).to_csv(reference, index=False)
    return settings.home, reference


def test_run_prints_a_table_and_writes_the_report(logged, tmp_path):
    home, reference = logged
    out = tmp_path / "report"
    result = _run(["monitor", "run", "--model", "toy", "--reference", str(reference),
                   "--out", str(out), "--no-alerts"], home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wasserstein" in result.stdout and "jensenshannon" in result.stdout
    assert (out / "index.html").is_file() and (out / "drift_features.png").is_file()
    summary = _run(["monitor", "summary", "--model", "toy"], home)
    assert summary.returncode == 0 and "wasserstein" in summary.stdout


def test_labels_and_alerts_commands(logged, tmp_path):
    home, _ = logged
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"request_id": ["r1", "r2", "ghost"], "label": [1.5, 0.5, 2.0]}).to_csv(
        labels, index=False)
    result = _run(["monitor", "labels", str(labels)], home)
    assert result.returncode == 0 and "2 labels stored" in result.stdout
    assert "ghost" in result.stdout
    strict = _run(["monitor", "labels", str(labels), "--strict"], home)
    assert strict.returncode == 2 and "request_id" in strict.stdout
    alerts = _run(["monitor", "alerts"], home)
    assert alerts.returncode == 0 and "alerts" in alerts.stdout


@pytest.mark.parametrize(("args", "expected"), [
    (["monitor", "run", "--model", "toy", "--reference", "nowhere.csv"], "does not exist"),
    (["monitor", "run", "--model", "nope", "--reference", "REF"], "no predictions"),
    (["monitor", "summary", "--model", "toy"], "no monitoring pass"),
])
def test_bad_input_is_a_message_not_a_traceback(logged, args, expected):
    home, reference = logged
    result = _run([str(reference) if a == "REF" else a for a in args], home)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert expected in out and "Traceback" not in out
