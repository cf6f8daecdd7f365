"""The service logs every recommendation; a killed server loses no acknowledged prediction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from recstack.api.main import create_app
from recstack.monitoring import PredictionLog
from recstack.monitoring.labels import prediction_frame
from recstack.server import wait_healthy
from recstack.settings import Settings

from .conftest import free_port


@pytest.fixture()
def home(trained_home, tmp_path) -> Settings:
    """The trained registry with a fresh monitoring store per test."""
    settings = trained_home[0].model_copy(deep=True)
    settings.monitoring.store_path = tmp_path / "monitoring" / "monitoring.db"
    return settings


def test_every_recommendation_is_logged_with_its_request_id(home):
    with TestClient(create_app(home)) as client:
        user = "u00001"
        response = client.post("/v1/recommendations", json={"user_id": user, "k": 3})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["request_id"] and response.headers["X-Request-ID"] == body["request_id"]
        batch = client.post("/v1/recommendations/batch", json={"requests": [
            {"user_id": user, "k": 2}, {"history": ["p00001"], "k": 2}]}).json()
        assert all(r["request_id"] for r in batch["results"])
        client.app.state.service.prediction_log.flush()
        frame = prediction_frame(client.app.state.service.prediction_log.store)
        assert len(frame) == 3
        first = frame.set_index("request_id").loc[body["request_id"]]
        assert first["model_name"] == "travel-next-item" and first["user_id"] == user
        assert first["output_items"] == [i["item_id"] for i in body["items"]]

        clicked = body["items"][1]["item_id"]
        labels = client.post("/v1/monitoring/labels", json={"labels": [
            {"request_id": body["request_id"], "label": clicked},
            {"request_id": "ghost", "label": "p1"}]})
        assert labels.status_code == 200 and labels.json() == {"stored": 1,
                                                               "unknown_ids": ["ghost"]}
        strict = client.post("/v1/monitoring/labels", json={
            "labels": [{"request_id": "ghost", "label": "p1"}], "strict": True})
        # An unknown request id is an unknown thing: 404, as the OpenAPI document says.
        assert strict.status_code == 404 and strict.json()["field"] == "labels.request_id"
        missing = client.get("/v1/monitoring/summary", params={"model": "travel-next-item"})
        assert missing.status_code == 404 and "monitor run" in missing.json()["fix"]
        assert client.get("/v1/monitoring/alerts").json() == []


def _serve(settings: Settings, port: int) -> subprocess.Popen:
    env = {**os.environ, "RECSTACK_HOME": str(settings.home),
           "RECSTACK_MONITORING__STORE_PATH": str(settings.monitoring.store_path),
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    server = subprocess.Popen([sys.executable, "-m", "recstack", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        wait_healthy(server, port, 60)
    except (ChildProcessError, TimeoutError) as exc:
        server.kill()
        pytest.fail(f"{exc}\n{server.stdout.read() if server.stdout else ''}")
    return server


def _burst_then_signal(port: int, server: subprocess.Popen, sig: int) -> list[str]:
    """Four clients send requests; after 120 acknowledgements the server gets ``sig``."""
    acknowledged: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def client() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            while not stop.is_set():
                try:
                    response = http.post("/v1/recommendations", json={"user_id": "u00001",
                                                                      "k": 5})
                except httpx.TransportError:
                    continue
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(response.headers["X-Request-ID"])

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    while len(acknowledged) < 120 and server.poll() is None:
        time.sleep(0.005)
    server.send_signal(sig)
    server.wait(timeout=30)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    return acknowledged


@pytest.mark.server
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_server_mid_burst_loses_no_acknowledged_prediction(home, sig):
    port = free_port()
    server = _serve(home, port)
    try:
        acknowledged = _burst_then_signal(port, server, sig)
    finally:
        if server.poll() is None:
            server.kill()
    assert len(acknowledged) >= 120
    log = PredictionLog(home).start()
    print(f"signal {sig}: {len(acknowledged)} acknowledged, {log.recovered} from the journal")
    stored = set(log.store.read_predictions()["request_id"])
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged predictions lost"
    if sig == signal.SIGTERM:  # graceful: everything was already in the store
        assert log.recovered == 0
    log.close()
    assert not list(Path(log.journal_dir).glob("*.jsonl"))
