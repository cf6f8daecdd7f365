"""The production server: gunicorn with uvicorn workers, and how many workers fit in memory.

``recstack serve --workers N`` (N > 1) replaces itself with gunicorn (:func:`run_gunicorn`);
each worker builds its own app with :func:`worker_app` (no preload: torch and the model caches
are not fork-safe to share) and loads every champion before it serves, so a worker's memory is
at its working size from its first request.

``--workers auto`` first measures one warm worker (:func:`measure_worker`: a real gunicorn with
one worker, champions loaded, ``/health`` answered) and then sizes the pool with
:func:`plan_workers`. Why the rule looks the way it does is in docs/serving.md ("Production
server"): the seed team ran three workers in a container that had room for two, and the kernel
killed one.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from recstack.errors import ConfigError
from recstack.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from recstack.serving import ServiceState

# gunicorn's own logger: its handler and level are set up in every worker.
_gunicorn_log = logging.getLogger("gunicorn.error")
MIB = 1024 * 1024
# A worker's private memory grows after boot: inference buffers, allocator arenas, and shared
# pages that Python's reference counting writes to (copy-on-write makes them private).
LOAD_GROWTH = 1.25
# Left free for the kernel's own charges to the container (sockets, page cache of the logs).
SAFETY_MARGIN = 128 * MIB
# Seconds a worker may stay silent: it loads its champions before its first heartbeat.
WORKER_TIMEOUT = 120
# Seconds in-flight requests get to finish after SIGTERM before gunicorn kills the worker.
GRACEFUL_TIMEOUT = 30
WORKER_CLASS = "uvicorn_worker.UvicornWorker"
FACTORY = "recstack.server:worker_app()"
WARM_MARK = "warm, champions loaded:"
# Requests per keep-alive connection before the worker closes it (see ConnectionRecycler).
RECYCLE_REQUESTS = 20


@dataclass(frozen=True)
class WorkerMemory:
    """Measured memory of a gunicorn master with one warm worker (bytes).

    Attributes:
        rss: the worker's resident set: every page it maps, shared ones included.
        uss: the worker's unique set: pages only it maps, what each further worker adds.
        master_rss: the gunicorn master's resident set (there is one master whatever N is).
        models: the champions the worker loaded.
        seconds: from start to a warm worker answering ``/health``.
    """

    rss: int
    uss: int
    master_rss: int
    models: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def shared(self) -> int:
        """Pages the worker shares (libraries, the master's copy-on-write pages): charged once."""
        return max(self.rss - self.uss, 0)


@dataclass(frozen=True)
class WorkerPlan:
    """How many workers to run, and why."""

    workers: int
    limit: int
    limit_source: str
    per_worker: int
    headroom: int
    by_memory: int
    cpus: int

    def describe(self) -> str:
        cap = " (capped at the CPU count)" if self.workers < self.by_memory else ""
        return (f"({mib(self.limit)} limit [{self.limit_source}] - {mib(self.headroom)} "
                f"headroom) / {mib(self.per_worker)} per worker = {self.by_memory}; "
                f"{self.cpus} CPUs -> {self.workers} workers{cap}")


def mib(n: int) -> str:
    return f"{n / MIB:,.0f} MiB"


def plan_workers(memory: WorkerMemory, limit: int, *, cpus: int,
                 limit_source: str = "configured") -> WorkerPlan:
    """The worker count for a memory limit: ``floor((limit - headroom) / per_worker)``, at most
    one per CPU.

    ``per_worker`` is the worker's unique memory times :data:`LOAD_GROWTH`; ``headroom`` is what
    is charged once whatever the count: the master, the worker's shared pages, and
    :data:`SAFETY_MARGIN`.

    Raises:
        ConfigError: when not even one worker fits, naming ``RECSTACK_SERVING__MEMORY_LIMIT``.
    """
    per_worker = math.ceil(memory.uss * LOAD_GROWTH)
    headroom = memory.master_rss + memory.shared + SAFETY_MARGIN
    by_memory = (limit - headroom) // per_worker if per_worker > 0 else 0
    if by_memory < 1:
        raise ConfigError(
            f"one worker needs {mib(per_worker + headroom)} ({mib(per_worker)} for the worker "
            f"+ {mib(headroom)} headroom) but the memory limit is {mib(limit)} "
            f"({limit_source})", field="RECSTACK_SERVING__MEMORY_LIMIT",
            fix="raise the container's memory limit or RECSTACK_SERVING__MEMORY_LIMIT, or "
                "serve fewer or smaller champions")
    return WorkerPlan(workers=max(1, min(by_memory, cpus)), limit=limit,
                      limit_source=limit_source, per_worker=per_worker, headroom=headroom,
                      by_memory=by_memory, cpus=cpus)


def cgroup_memory_limit(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """This container's memory limit (cgroup v2, else v1), or None when unlimited."""
    for path in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        # v2 writes "max"; v1 writes a page-rounded 2^63 when unlimited.
        if text.isdigit() and int(text) < 2**60:
            return int(text)
        return None
    return None


def memory_limit(settings: Settings) -> tuple[int, str]:
    """The memory the server may use and where that number came from."""
    import psutil

    if settings.serving.memory_limit is not None:
        return int(settings.serving.memory_limit), "RECSTACK_SERVING__MEMORY_LIMIT"
    cgroup = cgroup_memory_limit()
    if cgroup is not None:
        return cgroup, "cgroup"
    return int(psutil.virtual_memory().total), "machine memory"


def cpu_count(root: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may use: its affinity, lowered by a cgroup CPU quota if one is set."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    quota: float | None = None
    try:
        limit, period = (root / "cpu.max").read_text().split()
        quota = None if limit == "max" else int(limit) / int(period)
    except (OSError, ValueError):
        try:
            limit = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
            quota = int(limit) / int(period) if int(limit) > 0 else None
        except (OSError, ValueError):
            quota = None
    return max(1, min(cpus, math.ceil(quota))) if quota else cpus


# --- the worker ---------------------------------------------------------------------------

def warm_champions(state: ServiceState) -> list[str]:
    """Load into the service's caches every registered model a request would load without
    naming one: each kind's default model, and each version of a served kind that carries the
    serving alias. Returns their references."""
    from recstack.registry.models import ModelRegistry, parse_model_ref

    alias = state.settings.serving.alias
    versions = ModelRegistry(state.settings).list()
    refs: list[tuple[str, str]] = []
    for kind, cache in state.caches.items():
        if cache.default_ref:  # a default that names nothing registered is not an error here
            name, ref_alias, number = parse_model_ref(cache.default_ref, alias)
            if any(v.name == name and (ref_alias in v.aliases or number == v.version)
                   for v in versions):
                refs.append((kind, cache.default_ref))
        refs += [(kind, f"{v.name}@{alias}") for v in versions
                 if alias in v.aliases and cache.kind is not None and cache.kind.matches(v.tags)]
    loaded = []
    for kind, ref in dict.fromkeys(refs):
        try:
            state.cache(kind).get(ref)
        except Exception as exc:  # the worker still serves the others; requests get the error
            _gunicorn_log.warning("could not load %s (%s): %s", ref, kind, exc)
            continue
        loaded.append(ref)
    return loaded


class _DiscardedLog:
    """The prediction log's stand-in while a worker warms up: the examples it sends itself are
    not predictions anyone asked for, and must not reach monitoring."""

    def log(self, record: Any) -> None:
        del record

    def log_many(self, records: list[Any]) -> None:
        del records


def example_requests() -> list[tuple[str, Any]]:
    """``(path, body)`` for every example of every system's POST route (the request schemas'
    OpenAPI examples): requests that run each served model once."""
    from fastapi.routing import APIRoute
    from pydantic import BaseModel

    from recstack.system import resolve
    from recstack.systems import installed_systems

    requests = []
    for spec in installed_systems():
        routes = resolve(spec.router, field=f"{spec.name}: router").routes if spec.router else []
        for route in routes:
            if not (isinstance(route, APIRoute) and "POST" in (route.methods or ())
                    and route.body_field is not None):
                continue
            model = route.body_field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                extra = model.model_config.get("json_schema_extra")
                examples = extra.get("examples", []) if isinstance(extra, dict) else []
                requests += [(route.path, body) for body in examples]  # type: ignore[union-attr]
    return requests


async def warm_up(app: FastAPI) -> list[str]:
    """Load the champions, then send the app its own examples in-process (no socket): the first
    call of a model often builds more (a morphological analyser, caches) than loading it did.
    Returns the champions loaded."""
    import asyncio

    import httpx

    state = app.state.service
    # A thread: loading reads files and MLflow, and the event loop stays free.
    models = await asyncio.to_thread(warm_champions, state)
    key = state.settings.serving.api_key
    headers = {"X-API-Key": key.get_secret_value()} if key is not None else {}
    log, state.prediction_log = state.prediction_log, _DiscardedLog()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://warm-up", headers=headers) as client:
            for path, body in example_requests():
                response = await client.post(path, json=body)
                if response.status_code >= 500:
                    _gunicorn_log.warning("warm-up %s answered %d: %s", path,
                                          response.status_code, response.text[:300])
    finally:
        state.prediction_log = log
    return models


class ConnectionRecycler:
    """ASGI middleware: answers ``Connection: close`` on every ``limit``-th request of a
    keep-alive connection (nginx's ``keepalive_requests``; uvicorn has no such setting).

    Why: gunicorn's workers accept from one shared socket, and a client that opens a few
    keep-alive connections at once usually has them all accepted by one worker, which then does
    all the work while the others idle (measured: 91 % of the CPU on one of two workers at 100
    requests/s). A client that reconnects is dealt again, and a busy worker is slower to accept.
    """

    def __init__(self, app: Any, limit: int = RECYCLE_REQUESTS, tracked: int = 10_000):
        from collections import OrderedDict

        self.app = app
        self.limit = limit
        self.tracked = tracked
        self.counts: OrderedDict[tuple[str, int], int] = OrderedDict()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        client = scope.get("client") if scope["type"] == "http" else None
        if not client:
            await self.app(scope, receive, send)
            return
        key = (str(client[0]), int(client[1]))  # one TCP connection
        count = self.counts.pop(key, 0) + 1
        close = count >= self.limit
        if not close:
            self.counts[key] = count
            if len(self.counts) > self.tracked:  # connections that went away
                self.counts.popitem(last=False)

        async def send_closing(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_closing if close else send)


def worker_app() -> FastAPI:
    """Gunicorn's app factory: the service, warm (:func:`warm_up`) before it serves, its
    keep-alive connections recycled (:class:`ConnectionRecycler`)."""
    from recstack.api.main import create_app

    app = create_app(get_settings())
    app.add_middleware(ConnectionRecycler)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def warmed(application: Any) -> AsyncIterator[None]:
        async with inner(application):
            models = await warm_up(application)
            _gunicorn_log.info("worker %d %s %s", os.getpid(), WARM_MARK, ", ".join(models))
            yield

    app.router.lifespan_context = warmed
    return app


def gunicorn_argv(host: str, port: int, workers: int) -> list[str]:
    """The gunicorn command line ``recstack serve`` runs (and :func:`measure_worker` measures).

    Raises:
        ModuleNotFoundError: gunicorn or uvicorn-worker is missing (the CLI names the extra).
    """
    import importlib.util

    for module in ("gunicorn", "uvicorn_worker"):
        # Checked here: the subprocess would only say so in its own output.
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)
    return [sys.executable, "-m", "gunicorn", FACTORY, "--worker-class", WORKER_CLASS,
            "--workers", str(workers), "--bind", f"{host}:{port}",
            "--timeout", str(WORKER_TIMEOUT), "--graceful-timeout", str(GRACEFUL_TIMEOUT),
            "--access-logfile", "-", "--log-level", "info",
            # Signals are the control interface; gunicorn 26's control socket has one path per
            # user, which two servers on one machine would fight over.
            "--no-control-socket"]


# Read by the OpenMP and BLAS runtimes when they load, so they must be set before any model
# (torch, numpy's BLAS, scikit-learn) is imported in the serving process.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def limit_worker_threads(threads: int, environ: MutableMapping[str, str] | None = None
                         ) -> MutableMapping[str, str]:
    """Set each of :data:`THREAD_VARIABLES` to ``threads`` where it is not set already.

    Why one thread: a served request is small (one user's forward pass, one patient), and the
    service runs requests side by side in threads and workers. With the runtimes' default of
    one thread per core, every request's parallel regions spin threads on cores the other
    requests need: measured 2026-12-01 on 2 cores, 2 workers, SASRec recommendations at 200
    requests/s, p99 121.8 ms and 6.4 ms of worker CPU per request with the defaults, 39.1 ms
    and 5.0 ms with one thread (docs/serving.md, "Threads per worker"). Returns ``environ``
    (default ``os.environ``), changed in place.
    """
    environ = os.environ if environ is None else environ
    for name in THREAD_VARIABLES:
        environ.setdefault(name, str(threads))
    return environ


def run_gunicorn(host: str, port: int, workers: int) -> NoReturn:
    """Become the gunicorn master: signals (SIGTERM, SIGHUP reload) reach it directly."""
    argv = gunicorn_argv(host, port, workers)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


# --- the measurement ----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_memory(pid: int) -> dict[str, int]:
    """``rss``, ``uss`` and ``pss`` of one process (bytes)."""
    import psutil

    info = psutil.Process(pid).memory_full_info()
    return {"rss": int(info.rss), "uss": int(info.uss), "pss": int(getattr(info, "pss", 0))}


def gunicorn_workers(master_pid: int) -> list[int]:
    """The worker processes of a gunicorn master."""
    import psutil

    return [child.pid for child in psutil.Process(master_pid).children()]


def measure_worker(settings: Settings | None = None, *,
                   timeout: float = WORKER_TIMEOUT) -> WorkerMemory:
    """Start gunicorn with one worker on a free local port, wait until the worker is warm (its
    champions loaded, ``/health`` answered), and read the master's and the worker's memory.

    The subprocess reads the same ``RECSTACK_*`` environment as this process; ``settings``
    only sets its home.
    """
    import tempfile

    env = dict(os.environ)
    if settings is not None:
        env["RECSTACK_HOME"] = str(settings.home)
    port = free_port()
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(gunicorn_argv("127.0.0.1", port, 1), env=env, stdout=log,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            try:
                wait_healthy(server, port, timeout)
            except ChildProcessError:
                log.seek(0)
                raise ConfigError(f"the measured worker exited ({server.returncode}): "
                                  f"{log.read()[-2000:]}", field="workers",
                                  fix="run `recstack serve --workers 1` to see the error") from None
            except TimeoutError:
                raise ConfigError(f"the measured worker was not warm after {timeout:.0f} s",
                                  field="workers",
                                  fix="run `recstack serve --workers 1` to see why") from None
            seconds = time.monotonic() - started
            workers = gunicorn_workers(server.pid)
            if len(workers) != 1:
                raise ConfigError(f"gunicorn started {len(workers)} workers, expected 1",
                                  field="workers", fix="see the gunicorn log")
            worker = process_memory(workers[0])
            master = process_memory(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=GRACEFUL_TIMEOUT + 5)
            except subprocess.TimeoutExpired:
                server.kill()
        log.seek(0)
        models = [line.split(WARM_MARK, 1)[1].strip() for line in log if WARM_MARK in line]
    loaded = [m for m in models[0].split(", ") if m] if models else []
    return WorkerMemory(rss=worker["rss"], uss=worker["uss"], master_rss=master["rss"],
                        models=loaded, seconds=round(seconds, 2))


def wait_healthy(server: subprocess.Popen[Any], port: int, timeout: float) -> None:
    """Block until the server on local ``port`` answers ``/health`` with 200.

    Raises:
        ChildProcessError: the server process exited first.
        TimeoutError: it did not answer within ``timeout`` seconds.
    """
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise ChildProcessError(f"the server exited ({server.returncode}) before it answered")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server did not answer /health within {timeout:.0f} s")
        time.sleep(0.3)
