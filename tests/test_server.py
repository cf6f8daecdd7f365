"""The production server: the worker-count rule, its inputs, and a real gunicorn that shuts down
without losing a logged prediction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from recstack.errors import ConfigError
from recstack.server import (
    MIB,
    ConnectionRecycler,
    WorkerMemory,
    cgroup_memory_limit,
    cpu_count,
    example_requests,
    free_port,
    gunicorn_workers,
    limit_worker_threads,
    measure_worker,
    plan_workers,
    process_memory,
    wait_healthy,
    worker_app,
)
from recstack.settings import Settings, get_settings

RECSTACK = [sys.executable, "-m", "recstack"]
GIB = 1024 * MIB


# --- the rule ---------------------------------------------------------------------------

def test_the_seed_container_gets_two_workers_not_three():
    # The seed's lesson: a 2 GiB container ran 3 workers of an encoder model (each ~600 MiB
    # resident once warm) and the kernel killed one; 2 ran. Dividing the limit by a worker's
    # resident size says 3; the rule must say 2.
    worker = WorkerMemory(rss=600 * MIB, uss=540 * MIB, master_rss=40 * MIB)
    assert (2 * GIB) // worker.rss == 3  # the naive division the seed team used
    plan = plan_workers(worker, 2 * GIB, cpus=8)
    assert plan.workers == 2 and plan.by_memory == 2
    # Each worker's private pages with room to grow, plus the shared pages and master once.
    assert plan.per_worker == round(540 * MIB * 1.25)
    assert plan.headroom == (40 + 60 + 128) * MIB
    assert plan.workers * plan.per_worker + plan.headroom <= 2 * GIB
    assert "2 workers" in plan.describe()


def test_the_count_is_capped_at_the_cpus_and_grows_with_the_limit():
    worker = WorkerMemory(rss=300 * MIB, uss=220 * MIB, master_rss=30 * MIB)
    assert plan_workers(worker, 24 * GIB, cpus=2).workers == 2
    roomy = plan_workers(worker, 24 * GIB, cpus=128)
    assert roomy.workers == roomy.by_memory == (24 * GIB - roomy.headroom) // roomy.per_worker
    assert [plan_workers(worker, n * GIB, cpus=64).workers for n in (1, 2, 4)] == [2, 6, 14]


def test_a_limit_too_small_for_one_worker_is_refused_naming_the_variable():
    worker = WorkerMemory(rss=600 * MIB, uss=540 * MIB, master_rss=40 * MIB)
    with pytest.raises(ConfigError) as err:
        plan_workers(worker, 512 * MIB, cpus=2, limit_source="cgroup")
    assert err.value.field == "RECSTACK_SERVING__MEMORY_LIMIT"
    assert "512 MiB" in err.value.message and "cgroup" in err.value.message


# --- its inputs -------------------------------------------------------------------------

@pytest.mark.parametrize(("files", "expected"), [
    ({"memory.max": "max\n"}, None),                                     # cgroup v2, unlimited
    ({"memory.max": "2147483648\n"}, 2 * GIB),                           # cgroup v2
    ({"memory/memory.limit_in_bytes": "9223372036854771712\n"}, None),   # cgroup v1, unlimited
    ({"memory/memory.limit_in_bytes": "1073741824\n"}, GIB),             # cgroup v1
    ({}, None),                                                          # no cgroup
])
def test_cgroup_memory_limit(tmp_path: Path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_memory_limit(tmp_path) == expected


def test_a_cpu_quota_lowers_the_cpu_count(tmp_path: Path):
    available = cpu_count(tmp_path)  # no quota files: the affinity
    assert available == len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text("100000 100000\n")  # one CPU's worth
    assert cpu_count(tmp_path) == 1
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpu_count(tmp_path) == available


@pytest.mark.parametrize(("variables", "workers", "limit"), [
    ({}, 1, None),
    ({"RECSTACK_SERVING__WORKERS": "3"}, 3, None),
    ({"RECSTACK_SERVING__WORKERS": "Auto"}, "auto", None),
    ({"RECSTACK_SERVING__MEMORY_LIMIT": "2GiB"}, 1, 2 * GIB),
    ({"RECSTACK_SERVING__MEMORY_LIMIT": "2Gi"}, 1, 2 * GIB),  # Kubernetes' spelling
    ({"RECSTACK_SERVING__MEMORY_LIMIT": "1.5G"}, 1, 1_500_000_000),
    ({"RECSTACK_SERVING__MEMORY_LIMIT": "536870912"}, 1, 512 * MIB),
])
def test_serving_settings_read_workers_and_memory(monkeypatch, variables, workers, limit):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    serving = Settings().serving
    assert serving.workers == workers and serving.memory_limit == limit


@pytest.mark.parametrize(("name", "value", "message"), [
    ("RECSTACK_SERVING__WORKERS", "0", "whole number >= 1 or 'auto'"),
    ("RECSTACK_SERVING__WORKERS", "two", "whole number >= 1 or 'auto'"),
    ("RECSTACK_SERVING__MEMORY_LIMIT", "lots", "'2GiB'"),
    ("RECSTACK_SERVING__MEMORY_LIMIT", "2 parsecs", "byte"),
    ("RECSTACK_SERVING__MEMORY_LIMIT", "0", "more than 0"),
    ("RECSTACK_SERVING__WORKER_THREADS", "0", "greater than or equal to 1"),
])
def test_bad_serving_settings_name_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError) as err:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert err.value.field == name and message in err.value.message


def test_a_bad_workers_option_is_a_message_not_a_traceback(tmp_path: Path):
    result = subprocess.run([*RECSTACK, "serve", "--workers", "many"], env=_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--workers" in result.stdout and "Traceback" not in result.stdout + result.stderr


# --- the worker -------------------------------------------------------------------------

def test_every_system_route_with_examples_is_exercised():
    paths = {path for path, _ in example_requests()}
    assert {"/v1/recommendations", "/v1/treatment/recommend", "/v1/nlu/parse"} <= paths
    assert not any(path.startswith(("/v1/monitoring", "/v1/features")) for path in paths)


def test_a_worker_is_warm_before_it_serves_and_its_warm_up_is_not_logged(home, monkeypatch):
    from fastapi.testclient import TestClient

    from recstack.monitoring.labels import prediction_frame

    monkeypatch.setenv("RECSTACK_HOME", str(home.home))
    monkeypatch.setenv("RECSTACK_MONITORING__STORE_PATH", str(home.monitoring.store_path))
    get_settings.cache_clear()
    try:
        app = worker_app()
        with TestClient(app) as client:
            state = app.state.service
            champion = champion_version(home)
            assert list(state.caches["sequential"]._loaded) == [("travel-next-item", champion)]
            state.prediction_log.flush()
            assert len(prediction_frame(state.prediction_log.store)) == 0  # warm-up discarded
            answer = client.post("/v1/recommendations", json={"user_id": "u00001", "k": 3})
            assert answer.status_code == 200, answer.text
            state.prediction_log.flush()
            logged = prediction_frame(state.prediction_log.store)
            assert list(logged["request_id"]) == [answer.headers["X-Request-ID"]]
    finally:
        get_settings.cache_clear()


def test_every_twentieth_request_of_a_connection_closes_it():
    import asyncio

    from fastapi import FastAPI

    app = FastAPI()
    app.get("/ping")(lambda: {"ok": True})
    recycled = ConnectionRecycler(app, limit=20)

    async def calls(client: tuple[str, int]) -> list[str | None]:
        transport = httpx.ASGITransport(app=recycled, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return [(await http.get("/ping")).headers.get("connection") for _ in range(41)]

    first, other = asyncio.run(calls(("10.0.0.1", 5000))), asyncio.run(calls(("10.0.0.2", 7)))
    closed = [i + 1 for i, header in enumerate(first) if header == "close"]
    assert closed == [20, 40] and first == other  # counted per connection
    assert not recycled.counts or max(recycled.counts.values()) < 20


# --- a real gunicorn ----------------------------------------------------------------------

@pytest.fixture()
def home(trained_home, tmp_path) -> Settings:
    """The trained registry (item-kNN champion) with a fresh monitoring store per test."""
    settings: Settings = trained_home[0].model_copy(deep=True)
    settings.monitoring.store_path = tmp_path / "monitoring" / "monitoring.db"
    return settings


def champion_version(settings: Settings) -> str:
    """The version the champion alias names."""
    from recstack.registry.models import ModelRegistry

    return ModelRegistry(settings).resolve("travel-next-item@champion").version


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "RECSTACK_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true",
            "COLUMNS": "200", **extra}


@pytest.mark.server
def test_one_warm_worker_is_measured(home: Settings):
    memory = measure_worker(home)
    assert memory.models == ["travel-next-item@champion"]
    assert 0 < memory.uss < memory.rss and memory.master_rss > 0
    # A warm worker holds pandas, MLflow and the model: tens of MiB at least, not a few pages.
    assert memory.rss > 50 * MIB and memory.master_rss < memory.rss


@pytest.mark.server
def test_auto_refuses_when_one_worker_does_not_fit(home: Settings):
    result = subprocess.run([*RECSTACK, "serve", "--workers", "auto", "--port", str(free_port())],
                            env=_env(home.home, RECSTACK_SERVING__MEMORY_LIMIT="64MiB"),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 2, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "one warm worker: RSS" in out and "RECSTACK_SERVING__MEMORY_LIMIT" in out
    assert "Traceback" not in result.stdout + result.stderr


def _start(home: Settings, port: int, workers: str, log: Path) -> subprocess.Popen[str]:
    env = _env(home.home, RECSTACK_MONITORING__STORE_PATH=str(home.monitoring.store_path))
    # A file, not a pipe: the access log of a long burst would fill a pipe and block the workers.
    with log.open("w") as out:
        server = subprocess.Popen([*RECSTACK, "serve", "--workers", workers, "--port", str(port)],
                                  env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        wait_healthy(server, port, 120)
    except (ChildProcessError, TimeoutError) as exc:
        server.kill()
        pytest.fail(f"{exc}\n{log.read_text()}")
    return server


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen in {seconds:.0f} s"
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.server
def test_reload_and_sigterm_to_gunicorn_lose_no_logged_prediction(home: Settings,
                                                                   tmp_path: Path):
    from recstack.monitoring import PredictionLog

    port, log_file = free_port(), tmp_path / "gunicorn.log"
    server = _start(home, port, "2", log_file)
    acknowledged: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def client() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            while not stop.is_set():
                try:
                    response = http.post("/v1/recommendations",
                                         json={"user_id": "u00001", "k": 5})
                except httpx.TransportError:
                    continue
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(response.headers["X-Request-ID"])

    threads = [threading.Thread(target=client) for _ in range(4)]
    try:
        old = set(gunicorn_workers(server.pid))
        assert len(old) == 2 and all(process_memory(w)["uss"] > 0 for w in old)
        # One OpenMP/BLAS thread per worker unless the environment already chose a number.
        omp = os.environ.get("OMP_NUM_THREADS", "1")
        assert all(psutil.Process(w).environ().get("OMP_NUM_THREADS") == omp for w in old)
        for t in threads:
            t.start()
        _wait(lambda: len(acknowledged) >= 100, 60, "100 acknowledgements")
        # Reload mid-burst: new workers start and warm, the old ones finish what they hold.
        server.send_signal(signal.SIGHUP)
        _wait(lambda: not old & set(gunicorn_workers(server.pid))
              and len(gunicorn_workers(server.pid)) == 2, 90, "the reload")
        served = len(acknowledged)
        _wait(lambda: len(acknowledged) >= served + 100, 60, "100 answers from new workers")
        server.send_signal(signal.SIGTERM)  # mid-burst: requests are in flight
        server.wait(timeout=60)
    finally:
        stop.set()
        for t in threads:
            if t.ident is not None:  # an assertion before the clients started leaves them unstarted
                t.join(timeout=30)
        if server.poll() is None:
            server.kill()
    output = log_file.read_text()
    assert server.returncode == 0, output
    assert "Shutting down: Master" in output
    assert output.count("Application shutdown complete") == 4  # 2 old workers, 2 new ones
    log = PredictionLog(home).start()
    stored = set(log.store.read_predictions()["request_id"])
    # Graceful: every worker's lifespan drained its queue, nothing waits in a journal.
    assert log.recovered == 0
    log.close()
    assert not set(acknowledged) - stored, "acknowledged predictions lost"
    assert not list(Path(log.journal_dir).glob("*.jsonl"))


def test_worker_threads_fill_the_thread_variables_the_environment_left_unset():
    environ = {"MKL_NUM_THREADS": "4"}
    assert limit_worker_threads(2, environ) == {
        "MKL_NUM_THREADS": "4", "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}


def test_without_the_serve_extra_gunicorn_workers_are_a_message(tmp_path: Path):
    script = ("import sys; sys.modules['uvicorn_worker'] = None; sys.argv[1:] = "
              "['serve', '--workers', '2']; from recstack.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", script], env=_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "uvicorn_worker" in out and ".[serve]" in out and "Traceback" not in result.stderr


# --- the OpenAPI contract -----------------------------------------------------------------

API_KEY = "contract-test-key"
CONTRACT_CONFIG = """
# No state kept between runs (by default schemathesis writes .schemathesis/ where it runs).
[cache]
enabled = false

# Bodies whose values must fit the served model cannot be checked by the schema, which does
# not know the model: a treatment model's feature columns and their possible ranges, the item
# fields a recommender's catalogue can filter on, whether this installation has a package
# catalogue for a request that sends none, and whether a planner's stops are places of that
# catalogue. 422 is their documented answer.
[[operations]]
include-path-regex = "^/v1/(treatment/|recommendations|packages/)"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "404", "422", "503"]
"""
GEO_PAIRS = "place-matching/geo-er/osm_fsq/pit"
JEJU_MERCHANTS = "jeju/shinhan_mct_202312_latest_with_text.csv"
CATALOGUE = {"packages": [
    {"id": "pgh-1", "title": "Oakland", "stops": [
        {"name": "Bellefield Presbyterian Church", "lat": 40.4436, "lon": -79.95675},
        {"name": "Carnegie Station"}]},
    {"id": "pgh-2", "title": "West", "stops": [
        {"name": "Carnegie Station", "lat": 40.4059, "lon": -80.0909}]}]}


def _shared_dir() -> Path | None:
    configured = os.environ.get("RECSTACK_DATA__SHARED_DIR")
    root = (Path(configured) if configured
            else Path(__file__).resolve().parents[2] / "shared" / "data")
    return root if root.is_dir() else None


@pytest.fixture()
def contract_home(home: Settings,
                  tmp_path: Path) -> tuple[Settings, dict[str, str], set[str]]:
    """The trained home copied, plus what the chat and matching routes serve from: a place
    matcher promoted to champion (the rule-based one, fitted on 600 real Geo-ER pairs), a
    two-package catalogue and the Jeju graph. Without the shared data those routes answer 404
    (no model, no graph), which the contract covers too. Returns the settings, the service's
    extra environment and the routes that answer from real data."""
    import gzip
    import importlib.util
    import json
    import shutil

    from recstack.registry.models import ModelRegistry

    settings = home.model_copy(deep=True)
    settings.home = tmp_path / "home"
    shutil.copytree(home.home, settings.home)
    # Its own experiment, so that the new run's artifacts go under the copy, not the session's
    # shared home (the copied experiment's artifact folder).
    settings.tracking.experiment = "contract"
    catalogue = tmp_path / "packages.json"
    catalogue.write_text(json.dumps(CATALOGUE))
    env = {"RECSTACK_MATCHING__PACKAGES": str(catalogue)}
    served: set[str] = set()
    shared = _shared_dir()
    if shared is not None and (shared / GEO_PAIRS).is_dir():
        from recstack.matching.pipeline import MatchTrainConfig, train

        files = {}
        for part, n in {"train": 400, "valid": 200}.items():
            with gzip.open(shared / GEO_PAIRS / f"{part}.txt.gz", "rt", encoding="utf-8") as f:
                lines = [next(f) for _ in range(n)]
            files[part] = tmp_path / f"{part}.txt.gz"
            with gzip.open(files[part], "wt", encoding="utf-8") as out:
                out.writelines(lines)
        matcher = train(MatchTrainConfig(files["train"], files["valid"], model="thresholds"),
                        settings)
        assert matcher.version is not None
        ModelRegistry(settings).promote(matcher.version.name, matcher.version.version,
                                        "champion")
        served.add("/v1/places/match")
    # Without the chat extra (kuzu) no graph is built: the route answers 404 or 503 (a missing
    # extra), both documented, which the contract covers too.
    if (shared is not None and (shared / JEJU_MERCHANTS).is_file()
            and importlib.util.find_spec("kuzu") is not None):
        from recstack.conversational.build import build_graph

        settings.data.shared_dir = shared
        build_graph(settings)
        env["RECSTACK_DATA__SHARED_DIR"] = str(shared)
        served.add("/v1/chat")
    return settings, env, served


@pytest.mark.slow
@pytest.mark.server
def test_schemathesis_finds_no_contract_failure_on_a_real_service(
        contract_home: tuple[Settings, dict[str, str], set[str]], tmp_path: Path):
    """``schemathesis run --checks all`` against ``recstack serve`` (one process, an API key
    set, so that the security scheme in the document is enforced): no server error, no status
    or body the document does not list, no schema-valid request refused and no invalid one
    accepted, over at least 1,000 generated requests, on every operation of every system
    (chat and matching answer from a real graph and a real matcher when the shared data is
    there)."""
    import re

    home, extra, served = contract_home
    port, log = free_port(), tmp_path / "serve.log"
    env = _env(home.home, RECSTACK_MONITORING__STORE_PATH=str(home.monitoring.store_path),
               RECSTACK_SERVING__API_KEY=API_KEY, OMP_NUM_THREADS="1", **extra)
    with log.open("w") as out:
        server = subprocess.Popen([*RECSTACK, "serve", "--port", str(port)], env=env,
                                  stdout=out, stderr=subprocess.STDOUT, text=True)
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONTRACT_CONFIG)
    try:
        wait_healthy(server, port, 120)
        # The routes answer from real data when it is there, not only with 404s.
        for path, body in [
                ("/v1/chat", {"question": "제주시 한림읍에 있는 카페 중 30대 이용 비중이 가장 "
                                          "높은 곳은?"}),
                ("/v1/places/match", {"left": CATALOGUE["packages"][0]["stops"][0],
                                      "right": CATALOGUE["packages"][1]["stops"][0]})]:
            if path in served:
                answer = httpx.post(f"http://127.0.0.1:{port}{path}", json=body, timeout=30,
                                    headers={"X-API-Key": API_KEY})
                assert answer.status_code == 200, answer.text
        result = subprocess.run(
            [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config),
             "run", f"http://127.0.0.1:{port}/openapi.json", "--checks", "all",
             "--max-examples", "60", "--seed", "17", "--workers", "2",
             "--request-timeout", "30", "-H", f"X-API-Key: {API_KEY}",
             "--no-color"],
            env=env, capture_output=True, text=True, timeout=600)
    finally:
        server.terminate()
        server.wait(timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:] + log.read_text()[-2000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated[1]) >= 1000, output[-3000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    assert selected and selected[1] == selected[2], output[-3000:]  # no operation left out
