"""The command line end to end: demo → real server over HTTP; errors without tracebacks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

RECSTACK = [sys.executable, "-m", "recstack"]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "RECSTACK_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true",
            "COLUMNS": "160"}


def _run(args: list[str], home: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(RECSTACK + args, env=_env(home), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo") / "home"
    result = _run(["demo", "--no-serve", "--quick"], home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "champion" in result.stdout and "curl" in result.stdout
    return home


@pytest.mark.slow
@pytest.mark.server
def test_demo_then_real_server_answers_over_http(demo_home: Path):
    port = _free_port()
    server = subprocess.Popen([*RECSTACK, "serve", "--port", str(port)], env=_env(demo_home),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "server did not come up in 60 s"
            time.sleep(0.3)
        response = httpx.post(f"{base}/v1/recommendations", json={"user_id": "u00000", "k": 5},
                              timeout=30)
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) == 5
        bad = httpx.post(f"{base}/v1/recommendations", json={"user_id": "u00000", "k": -1})
        assert bad.status_code == 422 and bad.json()["field"] == "k"
        # The clinic model trained from the feature store serves a patient from its online store.
        lens = httpx.post(f"{base}/v1/treatment/recommend", json={"patient_id": "p000-000005"},
                          timeout=30)
        assert lens.status_code == 200, lens.text
        assert lens.json()["recommended"] in (12.1, 12.6, 13.2, 13.7)
        city = httpx.post(f"{base}/v1/features/online", json={
            "entities": [{"item_id": "p00001"}], "features": ["product_metadata:city"]}).json()
        assert city["rows"][0]["city"] and city["features"][0].startswith("product_metadata@")
        similar = httpx.get(f"{base}/v1/items/p00001/similar",
                            params={"k": 3, "city": city["rows"][0]["city"]}, timeout=30)
        assert similar.status_code == 200, similar.text
        neighbours = [i["item_id"] for i in similar.json()["items"]]
        assert len(neighbours) == 3 and "p00001" not in neighbours
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.mark.slow
def test_models_list_and_promote(demo_home: Path):
    listed = _run(["models", "list"], demo_home)
    assert listed.returncode == 0 and "travel-next-item" in listed.stdout
    promoted = _run(["models", "promote", "travel-next-item", "1", "--alias", "challenger"],
                    demo_home)
    assert promoted.returncode == 0 and "challenger" in promoted.stdout
    missing = _run(["models", "promote", "travel-next-item", "42"], demo_home)
    assert missing.returncode == 2 and "version 42" in missing.stdout
    assert "Traceback" not in missing.stdout + missing.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (["train", "sasrek"], "unknown model"),
    (["train", "itemknn", "--set", "windw=3"], "windw"),
    (["train", "itemknn", "--set", "window"], "key=value"),
    (["train", "itemknn", "--dataset", "nowhere.csv"], "nowhere.csv"),
    (["train", "itemknn", "--dataset", "imaginary"], "unknown dataset"),
])
def test_bad_cli_input_is_a_message_not_a_traceback(tmp_path: Path, args, expected):
    result = _run(args, tmp_path / "home", timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert expected in out and "Traceback" not in out


def test_malformed_interactions_file(tmp_path: Path):
    bad = tmp_path / "clicks.csv"
    bad.write_text("user,item\n1,2\n")
    result = _run(["train", "itemknn", "--dataset", str(bad)], tmp_path / "home", timeout=120)
    assert result.returncode == 2
    assert "user_id" in result.stdout and "Traceback" not in result.stdout + result.stderr
