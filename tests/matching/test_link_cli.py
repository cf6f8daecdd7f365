"""``recstack match link`` and ``recstack match jobs …``: a real process killed with SIGKILL
mid-job resumes with every request answered exactly once; the commands print the job id and
the output path; bad input exits 2 with a message naming the field, never a traceback."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from tests.matching.link_tables import write_table
from typer.testing import CliRunner

from recstack.errors import ConfigError, NotFoundError
from recstack.matching.jobs_store import JobStore
from recstack.settings import Settings

GEO_TEST = "place-matching/geo-er/osm_fsq/pit/test.txt.gz"


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory, shared_data, geo_files, geo_pairs):
    """A home with place-matcher/1 and the ~1,100 × 1,150 distinct records of a Geo-ER test
    file as two tables."""
    from recstack.matching.blocking import tables_from_pairs
    from recstack.matching.data import read_pairs
    from recstack.matching.pipeline import MatchTrainConfig, train

    if not (shared_data / GEO_TEST).is_file():
        pytest.skip(f"no Geo-ER test file at {shared_data / GEO_TEST}")
    folder = tmp_path_factory.mktemp("link-cli")
    settings = Settings(home=folder / "home")
    train(MatchTrainConfig(geo_files["train"], geo_files["valid"], model="thresholds"),
          settings, pairs=(geo_pairs["train"], geo_pairs["valid"]))
    left, right, _ = tables_from_pairs(read_pairs(shared_data / GEO_TEST, require_labels=True))
    return (settings.home, write_table(folder / "left.csv", "L", left),
            write_table(folder / "right.csv", "R", right))


def _env(home):
    return {**os.environ, "RECSTACK_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true",
            "COLUMNS": "200"}


def _run(args, home, timeout=300):
    return subprocess.run([sys.executable, "-m", "recstack", "match", *args], env=_env(home),
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_a_killed_link_process_resumes_with_no_request_lost_or_duplicated(cli_home):
    home, left, right = cli_home
    args = ["link", "--left", str(left), "--right", str(right), "--model", "place-matcher/1",
            "--job", "killed", "--chunk-size", "10"]
    process = subprocess.Popen([sys.executable, "-m", "recstack", "match", *args],
                               env=_env(home), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    store_path = home / "match-jobs" / "jobs.db"
    deadline = time.monotonic() + 240
    at_kill = None
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if store_path.is_file():
                store = JobStore(path=store_path)
                try:
                    record = store.get("killed")
                except NotFoundError:  # not created yet
                    record = None
                finally:
                    store.close()
                if record is not None and record.completed >= 50:
                    os.kill(process.pid, signal.SIGKILL)
                    at_kill = record
                    break
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
    assert at_kill is not None, "the job never got going"
    assert process.returncode == -signal.SIGKILL
    assert 0 < at_kill.completed < at_kill.total  # killed mid-job
    assert not (home / "match-jobs" / "killed" / "output.jsonl").exists()

    resumed = _run(args, home)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "job killed" in resumed.stdout and "output:" in resumed.stdout
    output = home / "match-jobs" / "killed" / "output.jsonl"
    ids = [json.loads(line)["custom_id"] for line in output.read_text().splitlines()]
    with open(left, encoding="utf-8") as handle:
        expected = [row["id"] for row in csv.DictReader(handle)]
    assert sorted(ids) == sorted(expected)  # every request once: none lost, none twice
    assert (home / "match-jobs" / "killed" / "errors.jsonl").read_text() == ""
    store = JobStore(path=store_path)
    final = store.get("killed")
    store.close()
    assert (final.status, final.completed, final.failed) == ("completed", len(expected), 0)


def _invoke(args, home, monkeypatch):
    from recstack.cli import build_app
    from recstack.settings import get_settings

    monkeypatch.setenv("RECSTACK_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(build_app(), ["match", *args])
    finally:
        get_settings.cache_clear()


def test_link_and_jobs_commands(cli_home, tmp_path, monkeypatch):
    home, left, right = cli_home
    small = tmp_path / "left.csv"
    small.write_text("".join(left.read_text(encoding="utf-8").splitlines(True)[:41]),
                     encoding="utf-8")
    linked = _invoke(["link", "--left", str(small), "--right", str(right), "--model",
                      "place-matcher/1", "--job", "cli-job"], home, monkeypatch)
    assert linked.exit_code == 0, linked.output
    assert "job cli-job" in linked.output and "completed — 40 completed" in linked.output
    assert str(home / "match-jobs" / "cli-job" / "output.jsonl") in linked.output
    listed = _invoke(["jobs", "list"], home, monkeypatch)
    assert listed.exit_code == 0 and "cli-job" in listed.output and "completed" in listed.output
    status = _invoke(["jobs", "status", "cli-job"], home, monkeypatch)
    assert status.exit_code == 0 and "40 completed, 0 failed, 0 pending" in status.output
    assert _invoke(["jobs", "retry", "cli-job"], home, monkeypatch).exit_code == 0
    cancelled = _invoke(["jobs", "cancel", "cli-job"], home, monkeypatch)
    assert isinstance(cancelled.exception, ConfigError)  # finished jobs cannot be cancelled
    again = _invoke(["link", "--left", str(small), "--right", str(right), "--model",
                     "place-matcher/1", "--link-key", "x"], home, monkeypatch)
    assert again.exit_code == 0 and "40 completed" in again.output
    incremental = _invoke(["link", "--left", str(small), "--right", str(right), "--model",
                           "place-matcher/1", "--link-key", "x"], home, monkeypatch)
    assert incremental.exit_code == 0 and "0 pending of 0 (40 unchanged records skipped)" in \
        incremental.output


@pytest.mark.parametrize(("args", "words"), [
    (["jobs", "status", "no-such-job"], "job_id: no match job 'no-such-job'"),
    (["link", "--left", "EMPTY", "--right", "RIGHT"], "--left: empty.csv is empty"),
    (["link", "--left", "DUPLICATE", "--right", "RIGHT"], "id: duplicate.csv rows 2 and 3 "
                                                          "share the id 'x'"),
    (["link", "--left", "RIGHT", "--right", "FAR"], "lat: far.csv row 2: lat 91.5 is outside"),
])
def test_bad_input_exits_2_naming_the_field(cli_home, tmp_path, args, words):
    home, _, right = cli_home
    files = {"EMPTY": ("empty.csv", ""),
             "DUPLICATE": ("duplicate.csv", "id,name\nx,Church\nx,Chapel\n"),
             "FAR": ("far.csv", "id,name,lat,lon\n1,Church,91.5,10\n")}
    paths = {"RIGHT": str(right)}
    for key, (name, text) in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths[key] = str(tmp_path / name)
    done = _run([paths.get(a, a) for a in args], home, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    message = " ".join((done.stdout + done.stderr).split())
    assert words in message and "Fix:" in message and "Traceback" not in message
