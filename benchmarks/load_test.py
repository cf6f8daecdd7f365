"""Headless load test: one route of a real ``recstack serve --workers N`` at fixed request rates.

Starts the server on a free local port against a recstack home (``--home``, where models are
registered; without it, a temporary home where the NLU CRF is trained and promoted to
champion), then runs locust headless once per rate in ``--rates`` for ``--seconds`` each: users
of at most 10 requests/s that together send the rate, open-loop (``locustfile.py``): by default
with exponential gaps (Poisson arrivals, ``--arrivals poisson``), or at a fixed period from a
random phase (``--arrivals paced``), never in step with each other. The
default route is ``POST /v1/nlu/parse`` with one Korean travel question per request from the
generated test split (unseen templates and place names). The load generator runs on the same
machine as the server: on 2 cores it competes with the workers, as in the issue's setting.

    .venv/bin/python benchmarks/load_test.py [--home PATH] [--workers 2] [--rates 10,50,100]
        [--seconds 30] [--route "POST /v1/nlu/parse"] [--bodies FILE.jsonl]
        [--arrivals poisson|paced]

Writes ``benchmarks/results/load_test.json``: per rate p50, p95, p99, max (ms), the achieved
requests/s and errors; the workers and each one's memory (psutil) after every rate; the machine
(CPUs, load average) and the command.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from rich.console import Console

from recstack.server import free_port, process_memory, wait_healthy

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "load_test.json"
LOCUSTFILE = HERE / "locustfile.py"
TARGET = "p99 < 30 ms per question at 50 requests/s over HTTP on 2 cores (issue 14)"
USER_RATE = 10.0  # requests/s per locust user: 50 requests/s = 5 users
ARRIVALS = ("poisson", "paced")  # benchmarks/locustfile.py's LOAD_ARRIVALS


def generator(arrivals: str) -> str:
    """How the load was made, for a result file."""
    gaps = ("exponential gaps (Poisson arrivals)" if arrivals == "poisson"
            else "a fixed period from a random phase")
    return (f"locust headless, FastHttpUser, each user open-loop with {gaps}, users of "
            f"{USER_RATE:g} requests/s or less, on the same machine as the server")


def nlu_bodies(folder: Path, n: int = 500, seed: int = 0) -> Path:
    """Questions from the generated test split, one ``{"text": ...}`` per line."""
    from recstack.nlu.data import make_splits
    from recstack.settings import Settings

    split = make_splits(seed, sizes=(0, 0, n), shared_dir=Settings().shared_data_dir)
    path = folder / "bodies.jsonl"
    path.write_text("".join(json.dumps({"text": e.text}, ensure_ascii=False) + "\n"
                            for e in split.test), encoding="utf-8")
    return path


def train_crf(home: Path, env: dict[str, str], console: Console) -> None:
    console.print(f"no --home: training the NLU CRF into {home}")
    subprocess.run([sys.executable, "-m", "recstack", "nlu", "train", "crf", "--promote",
                    "champion"], env=env, check=True, stdout=subprocess.DEVNULL)


def start_server(workers: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-m", "recstack", "serve", "--workers", workers,
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_healthy(server, port, 300)
    except (ChildProcessError, TimeoutError) as exc:
        server.kill()
        raise SystemExit(f"the server did not come up: {exc}") from None
    return server


def worker_memory(server_pid: int) -> list[dict[str, float]]:
    """Memory (MiB) and CPU seconds so far of each worker: gunicorn's children, or the one
    uvicorn process. The CPU seconds show how evenly the workers share the load."""
    children = psutil.Process(server_pid).children()
    pids = [c.pid for c in children] or [server_pid]
    rows = []
    for pid in pids:
        cpu = psutil.Process(pid).cpu_times()
        rows.append({"pid": pid, **{k: round(v / 2**20, 1) for k, v in process_memory(pid).items()},
                     "cpu_s": round(cpu.user + cpu.system, 2)})
    return rows


def warm_up(port: int, method: str, path: str, bodies: list[dict | None], n: int = 50) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for body in (bodies * n)[:n]:
            client.request(method, path, json=body).raise_for_status()


def run_rate(rate: float, seconds: int, port: int, env: dict[str, str], folder: Path,
             user_rate: float = USER_RATE, arrivals: str = "poisson") -> dict:
    users = max(1, math.ceil(rate / user_rate))
    out = folder / f"samples-{rate:g}.json"
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
               "--users", str(users), "--spawn-rate", str(max(rate, 1)),
               "--run-time", f"{seconds}s", "--stop-timeout", "10",
               "--host", f"http://127.0.0.1:{port}", "--only-summary", "--loglevel", "WARNING"]
    started = time.monotonic()
    subprocess.run(command, env={**env, "LOAD_USER_RATE": str(rate / users),
                                 "LOAD_OUT": str(out), "LOAD_ARRIVALS": arrivals},
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    samples = json.loads(out.read_text())
    ms = np.array([s[0] for s in samples]) if samples else np.zeros(1)
    errors = [s for s in samples if not 200 <= s[1] < 300]
    statuses: dict[str, int] = {}
    examples: dict[str, str] = {}
    for s in errors:
        key = str(s[1])  # 0: no HTTP answer (connection error)
        statuses[key] = statuses.get(key, 0) + 1
        examples.setdefault(key, s[2])
    ok = np.array([s[0] for s in samples if 200 <= s[1] < 300])
    answered = ({f"ok_p{q}_ms": round(float(np.percentile(ok, q)), 2) for q in (50, 99)}
                if ok.size else {})
    return {"rate": rate, "users": users, "seconds": seconds, "requests": len(samples),
            "ok": int(ok.size), **answered,
            "achieved_rps": round(len(samples) / seconds, 1),
            "locust_wall_s": round(elapsed, 1),
            **{f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)},
            "max_ms": round(float(ms.max()), 2), "mean_ms": round(float(ms.mean()), 2),
            "errors": len(errors), "errors_by_status": statuses, "error_examples": examples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="recstack home with registered models")
    parser.add_argument("--workers", default="2", help="N or auto (recstack serve --workers)")
    parser.add_argument("--rates", default="10,50,100", help="requests/s, comma-separated")
    parser.add_argument("--seconds", type=int, default=30, help="per rate")
    parser.add_argument("--route", default="POST /v1/nlu/parse", help="'METHOD /path'")
    parser.add_argument("--bodies", type=Path,
                        help="JSON-lines request bodies; default for /v1/nlu/parse: test-split "
                             "questions; none for other routes")
    parser.add_argument("--user-rate", type=float, default=USER_RATE,
                        help="requests/s per locust user (one keep-alive connection each)")
    parser.add_argument("--arrivals", choices=ARRIVALS, default="poisson",
                        help="poisson: exponential gaps (independent clients, the default); "
                             "paced: each user at a fixed period from a random phase")
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args()
    console = Console()
    method, path = args.route.split(maxsplit=1)
    rates = [float(r) for r in args.rates.split(",")]
    machine = {"cpus": os.cpu_count(), "load_average_at_start": list(os.getloadavg()),
               "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
               "python": platform.python_version(), "platform": platform.platform()}
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        console.print(f"[yellow]the machine is busy (load average {os.getloadavg()[0]:.1f} on "
                      f"{os.cpu_count()} CPUs): latencies will include waiting for a core")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        home = args.home or folder / "home"
        env = {**os.environ, "RECSTACK_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
        if args.home is None:
            train_crf(home, env, console)
        bodies_file = args.bodies or (nlu_bodies(folder) if path == "/v1/nlu/parse" else None)
        env.update(LOAD_METHOD=method, LOAD_PATH=path,
                   LOAD_BODIES=str(bodies_file) if bodies_file else "")
        bodies = ([json.loads(line) for line in bodies_file.read_text("utf-8").splitlines()
                   if line.strip()] if bodies_file else [None])
        port = free_port()
        server = start_server(args.workers, port, env)
        try:
            warm_up(port, method, path, bodies)
            memory = {"after_warm_up": worker_memory(server.pid)}
            results = []
            for rate in rates:
                row = run_rate(rate, args.seconds, port, env, folder, args.user_rate,
                               args.arrivals)
                memory[f"after_{rate:g}_rps"] = worker_memory(server.pid)
                results.append(row)
                console.print(row)
        finally:
            server.terminate()
            server.wait(timeout=60)
    report = {
        "route": args.route, "target": TARGET,
        "workers": args.workers, "worker_processes": len(memory["after_warm_up"]),
        "model": "NLU CRF trained by this run" if args.home is None else f"home {args.home}",
        "results": results, "memory_mib_per_worker": memory,
        "machine": {**machine, "load_average_at_end": list(os.getloadavg())},
        "generator": generator(args.arrivals),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    console.print(f"written {args.output}")


if __name__ == "__main__":
    main()
