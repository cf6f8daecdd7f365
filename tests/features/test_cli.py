"""``recstack features …``: apply, diff, list, materialize, get; errors exit with code 2.

The happy path runs in-process (typer's runner) to stay fast; the error path runs the real
entry point in a subprocess, since that is where errors become a message and exit code 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recstack.features import FeatureStore
from recstack.settings import Settings


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECSTACK_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true",
           "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "recstack", "features", *args], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _invoke(args: list[str], home: Path, monkeypatch) -> subprocess.CompletedProcess[str]:
    from recstack.cli import app
    from recstack.settings import get_settings

    monkeypatch.setenv("RECSTACK_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["features", *args])
    finally:
        get_settings.cache_clear()
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, "")


@pytest.fixture(scope="module")
def home(tmp_path_factory, readings) -> Path:
    home = tmp_path_factory.mktemp("cli") / "home"
    frame, stations = readings(20, random_state=4)
    store = FeatureStore(Settings(home=home))
    store.write_source("sensor_readings", frame)
    store.write_source("stations", stations)
    return home


def test_apply_list_diff_materialize_get(home, tmp_path, monkeypatch, readings_definitions):
    applied = _invoke(["apply", str(readings_definitions)], home, monkeypatch)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.count("added") == 2
    again = _invoke(["apply", str(readings_definitions)], home, monkeypatch)
    assert again.stdout.count("unchanged") == 2 and "added" not in again.stdout
    listed = _invoke(["list"], home, monkeypatch)
    assert "sensor_readings" in listed.stdout and "level:float64" in listed.stdout

    changed = tmp_path / "readings.yaml"
    changed.write_text(readings_definitions.read_text().replace("31536000", "86400"))
    diff = _invoke(["diff", str(changed)], home, monkeypatch)
    assert diff.returncode == 0 and "changed" in diff.stdout and "ttl_seconds" in diff.stdout

    materialized = _invoke(["materialize", "--end", "2025-06-01"], home, monkeypatch)
    assert materialized.returncode == 0, materialized.stderr
    assert "entities written" in materialized.stdout
    got = _invoke(["get", "-f", "station_profile:altitude", "-e", '{"station_id": "S00003"}'],
                  home, monkeypatch)
    assert got.returncode == 0, got.stderr
    body = json.loads(got.stdout)
    stations = pd.read_parquet(home / "features" / "sources" / "stations.parquet")
    expected = int(stations.set_index("station_id").loc["S00003", "altitude"])
    assert body["rows"] == [{"station_id": "S00003", "altitude": expected}]


def test_errors_are_one_message_and_exit_code_2(home, tmp_path):
    missing = _run(["apply", str(tmp_path / "nope.yaml")], home)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr + missing.stdout
    assert "DEFINITIONS_FILE" in missing.stderr + missing.stdout
    bad = _run(["get", "-f", "station_profile:nope", "-e", '{"station_id": "S1"}'], home)
    assert bad.returncode == 2 and "nope" in bad.stderr + bad.stdout
