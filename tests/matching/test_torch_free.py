"""Matching never needs torch: train, evaluate and predict run in an interpreter whose
``import torch`` fails, and bad input there is an error message, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.test_torch_free import CLI  # the CLI in an interpreter whose torch import fails


def _run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECSTACK_HOME": str(home), "COLUMNS": "160",
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    return subprocess.run([sys.executable, "-c", CLI, *args], env=env, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_match_commands_work_without_torch(geo_files, tmp_path):
    home, out = tmp_path / "home", tmp_path / "preds.csv"
    steps = [
        ["match", "train", "--pairs", str(geo_files["train"]), "--valid",
         str(geo_files["valid"]), "--model", "gbm", "--set", "max_iter=50",
         "--promote", "champion"],
        ["match", "evaluate", "--pairs", str(geo_files["test"])],
        ["match", "predict", "--pairs", str(geo_files["test"]), "--out", str(out)],
    ]
    for args in steps:
        result = _run(*args, home=home)
        assert result.returncode == 0, f"recstack {' '.join(args)}:\n{result.stdout}{result.stderr}"
    assert out.read_text().startswith("pair,score,match\n0,")
    bad = tmp_path / "bad.txt"
    bad.write_text("COL name VAL A\tCOL name VAL B\t1\nnot a pair\n")
    failed = _run("match", "evaluate", "--pairs", str(bad), home=home)
    assert failed.returncode != 0 and "bad.txt line 2 has 1 tab-separated fields" in (
        failed.stdout + failed.stderr)
    assert "Traceback" not in failed.stderr
