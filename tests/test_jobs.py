"""Resumable jobs: done chunks are skipped on restart, output is atomic, SIGKILL loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.progress import Progress

import recstack
from recstack.errors import ConfigError
from recstack.jobs import ResumableJob

SRC = str(Path(recstack.__file__).resolve().parents[1])

# A job of 8 chunks; each writes half its output, sleeps, writes the rest, so a kill can land
# in the middle of a write. It prints one JSON line: what this run did.
SCRIPT = '''
import json, sys, time
from recstack.jobs import ResumableJob

def work(key, out):
    line = f"{key}\\n"
    with open(out, "w") as f:
        f.write(line * 5000)
        f.flush()
        time.sleep(0.15)
        f.write(line * 5000)
    time.sleep(0.15)
    return {"lines": 10000}

job = ResumableJob(sys.argv[1], "slow-job", suffix=".txt")
summary = job.run([f"chunk-{i}" for i in range(8)], work)
print(json.dumps({"done": summary.done, "skipped": summary.skipped, "failed": summary.failed}))
'''


def _write(text: str):
    def work(key: str, out: Path) -> dict[str, str]:
        out.write_text(f"{text}:{key}")
        return {"key": key}
    return work


def test_a_second_run_skips_done_chunks_and_keeps_their_results(tmp_path):
    job = ResumableJob(tmp_path, "j", suffix=".txt")
    first = job.run(["a", "b"], _write("first"))
    assert first.done == ["a", "b"] and first.skipped == [] and first.complete
    second = job.run(["a", "b", "c"], _write("second"))
    assert second.done == ["c"] and second.skipped == ["a", "b"]
    assert second.results == {"a": {"key": "a"}, "b": {"key": "b"}, "c": {"key": "c"}}
    assert job.output_path("a").read_text() == "first:a"
    assert job.output_path("c").read_text() == "second:c"
    assert job.status().done == ["a", "b", "c"] and job.status().total == 3
    # Another ResumableJob object on the same folder sees the same job.
    assert ResumableJob(tmp_path, "j").status().done == ["a", "b", "c"]


def test_failed_chunks_leave_no_output_and_are_retried(tmp_path):
    job = ResumableJob(tmp_path, "j")
    calls: list[str] = []

    def flaky(key: str, out: Path) -> None:
        calls.append(key)
        out.write_text("partial")
        if key == "b" and calls.count("b") == 1:
            raise OSError("disk full")

    summary = job.run(["a", "b", "c"], flaky)
    assert summary.done == ["a", "c"] and summary.failed == {"b": "OSError: disk full"}
    assert not job.output_path("b").exists() and not list(job.outputs.glob(".*"))
    assert job.status().failed == {"b": "OSError: disk full"}
    again = job.run(["a", "b", "c"], flaky)
    assert again.done == ["b"] and again.skipped == ["a", "c"] and again.complete
    assert calls == ["a", "b", "c", "b"]

    def broken(key: str, out: Path) -> None:
        raise OSError("no space")

    with pytest.raises(OSError, match="no space"):
        ResumableJob(tmp_path, "k").run(["x", "y"], broken, stop_on_error=True)
    assert ResumableJob(tmp_path, "k").status().pending == ["y"]


def test_chunks_without_output_files_parameters_and_clear(tmp_path):
    job = ResumableJob(tmp_path, "side-effects")
    assert job.parameters({"end": 10}) == {"end": 10}
    assert job.parameters({"end": 99, "other": 1}) == {"end": 10, "other": 1}  # pinned
    summary = job.run(["v@1", "../odd key", "."], lambda key, out: len(key))
    assert summary.results == {"v@1": 3, "../odd key": 10, ".": 1}
    assert list(job.outputs.iterdir()) == []
    assert {job.output_path(k).parent for k in ("../odd key", ".")} == {job.outputs}
    job.clear()
    assert not job.folder.exists() and job.status().total == 0
    assert job.run(["v@1"], lambda key, out: None).done == ["v@1"]


def test_bad_ids_and_keys_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="job id"):
        ResumableJob(tmp_path, "../escape")
    job = ResumableJob(tmp_path, "j")
    with pytest.raises(ConfigError, match="repeat"):
        job.run(["a", "a"], lambda k, o: None)
    with pytest.raises(ConfigError, match="non-empty"):
        job.run([""], lambda k, o: None)


def test_progress_can_join_the_callers_bar(tmp_path):
    with Progress(disable=True) as bar:
        ResumableJob(tmp_path, "j").run(["a", "b"], lambda k, o: None, progress=bar)
        (task,) = bar.tasks
        assert task.completed == 2 and task.total == 2
    assert ResumableJob(tmp_path, "j2").run(["a"], lambda k, o: None, progress=True).done == ["a"]


def test_a_second_process_cannot_run_the_same_job_at_once(tmp_path):
    job = ResumableJob(tmp_path, "j")

    def nested(key: str, out: Path) -> None:
        with pytest.raises(ConfigError, match="running in another process"):
            ResumableJob(tmp_path, "j").run(["other"], lambda k, o: None)

    assert job.run(["a"], nested).done == ["a"]


def test_sigkill_mid_job_then_rerun_gives_each_output_once_and_whole(tmp_path):
    script = tmp_path / "slow_job.py"
    script.write_text(SCRIPT)
    root = tmp_path / "jobs"
    env = {**os.environ, "PYTHONPATH": SRC}
    job = ResumableJob(root, "slow-job", suffix=".txt")
    process = subprocess.Popen([sys.executable, str(script), str(root)], env=env,
                               stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(job.status().done) < 3:  # kill once a few chunks are committed
        assert process.poll() is None, "the job finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.17)  # land inside a chunk's write
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    killed = job.status()
    assert 3 <= len(killed.done) < 8

    rerun = subprocess.run([sys.executable, str(script), str(root)], env=env, timeout=120,
                           capture_output=True, text=True, check=True)
    report = json.loads(rerun.stdout)
    assert report["skipped"] == killed.done and report["failed"] == {}
    assert sorted(report["done"] + report["skipped"]) == sorted(f"chunk-{i}" for i in range(8))
    files = sorted(p.name for p in job.outputs.iterdir())
    assert files == [f"chunk-{i}.txt" for i in range(8)]  # no temporaries, no duplicates
    for i in range(8):
        assert job.output_path(f"chunk-{i}").read_text() == f"chunk-{i}\n" * 10000
    assert job.status().done == [f"chunk-{i}" for i in range(8)]
