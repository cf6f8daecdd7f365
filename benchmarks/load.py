"""Load benchmark of every model-serving route of a real ``recstack serve``, with 1 and with
``auto`` workers.

Routes: ``POST /v1/recommendations`` (item-kNN champion), ``GET /v1/items/{id}/similar``
(item embeddings champion), ``POST /v1/treatment/recommend`` (ICL model, one patient) and
``POST /v1/nlu/parse`` (when the home has an NLU champion; skipped otherwise, and the JSON says
so). Each route at each rate (``--rates``, default 50, 100, 200 requests/s) for ``--seconds``
(default 30), one route at a time, with locust headless on the same machine
(``benchmarks/locustfile.py``, driven by ``load_test.run_rate``).

Without ``--home`` it builds one in ``--build-home`` (default a temporary folder): the synthetic
travel set, item-kNN and item embeddings promoted to champion, the ICL treatment model fitted on
1,200 simulated patients, and with ``--nlu`` the NLU CRF. A home built by ``make demo`` works
too (treatment bodies then come from its feature-store source of ICL measurements); docs/
serving.md says how to copy one and give it the fine-tuned NLU encoder.

Before the rates, with each worker count, the treatment route is also timed alone (requests
one at a time: ``--alone`` single patients, and 10 batches of 1,000 patients on
``/v1/treatment/recommend/batch``), issue 17's "one patient" and "1,000 patients" targets.

    .venv/bin/python benchmarks/load.py --copy-home DEMO_HOME --home PATH   # then exits
    .venv/bin/python benchmarks/load.py [--home PATH | --build-home PATH [--nlu]]
        [--workers 1,auto] [--rates 50,100,200] [--seconds 30] [--alone 300]

Writes ``benchmarks/results/load.json``: per (workers, route, rate) the achieved rate, p50, p95,
p99, max (ms), errors (non-2xx other than 503), shed requests (503), and each worker's memory
(RSS, USS, PSS in MiB) after the route's runs; the machine and the command.
"""

from __future__ import annotations

import argparse
import json
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
import pandas as pd
import psutil
from rich.console import Console

from load_test import ARRIVALS, generator, run_rate, start_server, warm_up, worker_memory
from recstack.server import free_port

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "load.json"
TARGET = "p99 < 30 ms over HTTP at 200 requests/s on 2 cores; 0 errors but documented shedding"
FEATURES = ["age", "sphere_d", "ata_mm", "wtw_mm", "acd_mm", "lens_thickness_mm", "clr_um"]


def run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "recstack", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def build_home(home: Path, env: dict[str, str], nlu: bool, console: Console) -> None:
    console.print(f"building {home}: travel data, item-kNN, embeddings, ICL model"
                  + (", NLU CRF" if nlu else ""))
    run(["data", "generate-travel", "--users", "2000", "--products", "600"], env)
    run(["train", "itemknn", "--register-as", "travel-next-item", "--promote", "champion"], env)
    run(["embeddings", "train", "--promote", "champion"], env)
    patients = home / "icl.csv"
    run(["treatment", "simulate", "--out", str(patients), "--patients", "1200", "--seed", "21"],
        env)
    run(["treatment", "fit", "--data", str(patients)], env)
    if nlu:
        run(["nlu", "train", "crf", "--promote", "champion"], env)


def copy_home(source: Path, home: Path, console: Console) -> None:
    """Copy a recstack home (e.g. the one ``make demo`` built) to ``home`` and point the copy's
    MLflow database at the copy: MLflow stores absolute artifact paths, so without this a
    model registered into the copy would be written into the original's folder."""
    import shutil
    import sqlite3

    if home.exists():
        raise SystemExit(f"{home} exists; remove it or pass it as --home")
    shutil.copytree(source, home, symlinks=True)
    old, new = str(source.resolve()), str(home.resolve())
    with sqlite3.connect(home / "mlflow.db") as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in [c[1] for c in db.execute(f'PRAGMA table_info("{table}")')
                           if str(c[2]).upper().startswith(("VARCHAR", "TEXT"))]:
                db.execute(f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                           f'WHERE "{column}" LIKE ?', (old, new, f"%{old}%"))
    console.print(f"copied {source} to {home} (MLflow paths rewritten)")


def patients(home: Path) -> pd.DataFrame:
    """ICL measurements to send: the patients this benchmark simulated, else the feature
    store's source table of a ``make demo`` home."""
    if (home / "icl.csv").exists():
        return pd.read_csv(home / "icl.csv")[FEATURES]
    source = home / "features" / "sources" / "icl_measurements.parquet"
    if source.exists():
        return pd.read_parquet(source)[FEATURES]
    raise SystemExit(f"{home} has an icl-size champion but no patients to send: neither "
                     "icl.csv nor features/sources/icl_measurements.parquet")


def alone(port: int, rows: pd.DataFrame, n: int, batches: int = 10) -> dict:
    """The treatment route with one request at a time: ``n`` single patients, then
    ``batches`` batches of 1,000 patients (wall time per request, ms)."""
    singles = [{"features": p} for p in rows.head(500).to_dict(orient="records")]
    batch = [{"patients": rows.iloc[i * 1000:(i + 1) * 1000].to_dict(orient="records")}
             for i in range(max(1, len(rows) // 1000))]

    def timed(client: httpx.Client, path: str, bodies: list[dict], count: int) -> list[float]:
        out = []
        for i in range(count):
            started = time.perf_counter()
            client.post(path, json=bodies[i % len(bodies)]).raise_for_status()
            out.append((time.perf_counter() - started) * 1000)
        return out

    def summary(ms: list[float]) -> dict:
        return {"requests": len(ms), **{f"p{q}_ms": round(float(np.percentile(ms, q)), 2)
                                        for q in (50, 99)}, "max_ms": round(max(ms), 2)}

    # A long timeout: with one uvicorn worker (no warm-up) the first request loads the model.
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
        timed(client, "/v1/treatment/recommend", singles, 20)  # warm
        one = timed(client, "/v1/treatment/recommend", singles, n)
        timed(client, "/v1/treatment/recommend/batch", batch, 1)
        many = timed(client, "/v1/treatment/recommend/batch", batch, batches)
    return {"one patient": summary(one),
            f"batch of {len(batch[0]['patients'])} patients": summary(many)}


def routes(home: Path, folder: Path, env: dict[str, str]) -> list[dict]:
    """(name, method, path, bodies file) per route whose model has a champion in the home."""
    from load_test import nlu_bodies
    from recstack.registry.models import ModelRegistry
    from recstack.settings import Settings

    aliases: dict[str, set[str]] = {}
    for version in ModelRegistry(Settings(home=home)).list():  # every version of every name
        aliases.setdefault(version.name, set()).update(version.aliases)

    def champion(name: str) -> bool:
        return "champion" in aliases.get(name, set())

    def bodies(name: str, rows: list[dict]) -> Path:
        path = folder / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                        encoding="utf-8")
        return path

    travel = home / "data" / "travel"
    found = []
    if champion("travel-next-item"):
        users = pd.read_csv(travel / "users.csv")["user_id"].astype(str).tolist()[:500]
        found.append({"name": "recommendations", "method": "POST",
                      "path": "/v1/recommendations",
                      "bodies": bodies("recs", [{"user_id": u, "k": 10} for u in users])})
    if champion("travel-similar-items"):
        item = str(pd.read_csv(travel / "products.csv")["item_id"].iloc[0])
        found.append({"name": "similar items", "method": "GET",
                      "path": f"/v1/items/{item}/similar?k=10", "bodies": None})
    if champion("icl-size"):
        rows = patients(home).head(500).to_dict(orient="records")
        found.append({"name": "treatment", "method": "POST", "path": "/v1/treatment/recommend",
                      "bodies": bodies("treatment", [{"features": p} for p in rows])})
    if champion("travel-nlu"):
        found.append({"name": "nlu parse", "method": "POST", "path": "/v1/nlu/parse",
                      "bodies": nlu_bodies(folder)})
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="recstack home with the champions registered")
    parser.add_argument("--build-home", type=Path, help="build a home here (default: temporary)")
    parser.add_argument("--nlu", action="store_true", help="train the NLU CRF when building")
    parser.add_argument("--copy-home", type=Path, metavar="SOURCE",
                        help="copy the home SOURCE (e.g. make demo's) to --home, then exit")
    parser.add_argument("--workers", default="1,auto", help="comma-separated: N or auto")
    parser.add_argument("--rates", default="50,100,200", help="requests/s, comma-separated")
    parser.add_argument("--seconds", type=int, default=30, help="per route and rate")
    parser.add_argument("--routes", help="comma-separated route names to run (default: all): "
                                          "recommendations, similar items, treatment, nlu parse")
    parser.add_argument("--alone", type=int, default=300,
                        help="single-patient requests timed one at a time (0: skip)")
    parser.add_argument("--arrivals", choices=ARRIVALS, default="poisson",
                        help="poisson: exponential gaps (independent clients, the default); "
                             "paced: each user at a fixed period from a random phase")
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args()
    console = Console()
    if args.copy_home is not None:
        if args.home is None:
            parser.error("--copy-home needs --home (where the copy goes)")
        copy_home(args.copy_home, args.home, console)
        return
    rates = [float(r) for r in args.rates.split(",")]
    machine = {"cpus": os.cpu_count(), "load_average_at_start": list(os.getloadavg()),
               "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
               "python": platform.python_version(), "platform": platform.platform()}
    runs, skipped, alone_runs = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        home = args.home or args.build_home or folder / "home"
        env = {**os.environ, "RECSTACK_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true",
               "RECSTACK_MONITORING__STORE_PATH": str(folder / "monitoring.db")}
        if args.home is None and not (home / "icl.csv").exists():
            build_home(home, env, args.nlu, console)
        served = routes(home, folder, env)
        if args.routes:
            wanted = {name.strip() for name in args.routes.split(",")}
            skipped += [f"{r['name']}: not in --routes" for r in served if r["name"] not in wanted]
            served = [r for r in served if r["name"] in wanted]
        for name in {"recommendations", "similar items", "treatment", "nlu parse"} - {
                r["name"] for r in served} - {s.split(":")[0] for s in skipped}:
            skipped.append(f"{name}: no champion for it in the home")
        for workers in args.workers.split(","):
            port = free_port()
            server = start_server(workers, port, env)
            try:
                processes = len(worker_memory(server.pid))
                if args.alone and any(r["name"] == "treatment" for r in served):
                    row = {"workers": workers, "worker_processes": processes,
                           **alone(port, patients(home), args.alone)}
                    alone_runs.append(row)
                    console.print(row)
                for route in served:
                    bodies = ([json.loads(line) for line in
                               route["bodies"].read_text("utf-8").splitlines()]
                              if route["bodies"] else [None])
                    warm_up(port, route["method"], route["path"], bodies)
                    route_env = {**env, "LOAD_METHOD": route["method"],
                                 "LOAD_PATH": route["path"],
                                 "LOAD_BODIES": str(route["bodies"] or "")}
                    for rate in rates:
                        row = run_rate(rate, args.seconds, port, route_env, folder,
                                       arrivals=args.arrivals)
                        shed = row["errors_by_status"].pop("503", 0)
                        row.update(errors=row["errors"] - shed, shed=shed)
                        row = {"workers": workers, "worker_processes": processes,
                               "route": f"{route['method']} {route['path']}", **row}
                        runs.append(row)
                        console.print({k: row[k] for k in (
                            "workers", "route", "rate", "achieved_rps", "p50_ms", "p99_ms",
                            "errors", "shed")})
                    runs[-1]["memory_mib_per_worker"] = worker_memory(server.pid)
            finally:
                server.terminate()
                server.wait(timeout=60)
    report = {"target": TARGET, "runs": runs, "skipped": skipped,
              "treatment_alone": alone_runs, "treatment_alone_target":
                  "one patient p99 < 20 ms; 1,000 patients < 1 s (issue 17)",
              "machine": {**machine, "load_average_at_end": list(os.getloadavg())},
              "generator": generator(args.arrivals),
              "command": shlex.join([Path(sys.executable).name, *sys.argv])}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    console.print(f"written {args.output}")


if __name__ == "__main__":
    main()
