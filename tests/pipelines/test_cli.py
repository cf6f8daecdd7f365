"""``recstack pipeline list|run``: progress and summaries, and errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RECSTACK = [sys.executable, "-m", "recstack"]


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECSTACK_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true",
           "COLUMNS": "200"}
    return subprocess.run(RECSTACK + args, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def test_list_shows_every_pipeline_with_its_tasks(tmp_path):
    done = _run(["pipeline", "list"], tmp_path)
    assert done.returncode == 0, done.stderr
    for text in ("treatment", "nlu-retrain", "matching-nightly", "features → train → evaluate"):
        assert text in done.stdout


def test_a_quiet_day_runs_and_prints_each_task_summary(tmp_path):
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    (labelled / "2026-01-01.jsonl").write_text("")
    (labelled / "2026-01-05.jsonl").write_text("")
    done = _run(["pipeline", "run", "nlu-retrain", "--date", "2026-01-03",
                 "--param", f"labelled={labelled}"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    summaries = json.loads(done.stdout[done.stdout.index("\n{") + 1:])
    assert list(summaries) == ["train", "evaluate", "promote"]
    assert "no labelled questions" in summaries["train"]["skipped"]


def test_bad_input_is_one_paragraph_naming_the_setting(tmp_path, clinic):
    _, labels = clinic
    cases = [
        (["pipeline", "run", "nightly"], ["no pipeline 'nightly'", "treatment"]),
        (["pipeline", "run", "treatment", "--param", "labels"], ["--param", "NAME=VALUE"]),
        (["pipeline", "run", "treatment", "--param", "epochs=3"],
         ["no parameter 'epochs'", "valid_days"]),
        (["pipeline", "run", "treatment", "--date", "soon"], ["--date", "YYYY-MM-DD"]),
        (["pipeline", "run", "treatment", "--date", "2024-01-01", "--param", f"labels={labels}"],
         ["outside the data", "2025-01-01"]),
    ]
    for args, expected in cases:
        done = _run(args, labels.parent)
        output = done.stdout + done.stderr
        assert done.returncode == 2, output
        assert "Traceback" not in output
        assert all(text in " ".join(output.split()) for text in expected), output
