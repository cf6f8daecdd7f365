"""The locust user that ``benchmarks/load_test.py`` runs headless: one route, bodies taken in turn
from a JSON-lines file, each user paced to a fixed rate.

Configured by environment (set by load_test.py): LOAD_METHOD, LOAD_PATH, LOAD_BODIES (a .jsonl
file, or empty for no body), LOAD_USER_RATE (requests per second per user), LOAD_ARRIVALS
(``poisson``, the default, or ``paced``) and LOAD_OUT (where
every request's latency in milliseconds and status are written when locust quits). Locust's own
percentiles round to whole milliseconds; the raw latencies let load_test.py compute exact ones.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events, task
from locust.contrib.fasthttp import FastHttpUser

METHOD = os.environ.get("LOAD_METHOD", "POST")
PATH = os.environ.get("LOAD_PATH", "/v1/nlu/parse")
BODIES_FILE = os.environ.get("LOAD_BODIES", "")
USER_RATE = float(os.environ.get("LOAD_USER_RATE", "10"))
BODIES = ([json.loads(line) for line in Path(BODIES_FILE).read_text("utf-8").splitlines()
           if line.strip()] if BODIES_FILE else [None])
_next_body = itertools.cycle(BODIES)
SAMPLES: list[tuple[float, int, str]] = []  # (latency ms, status, error: what the reply said)


@events.request.add_listener
def _record(response_time: float, response: Any = None, exception: Any = None,
            **_: Any) -> None:
    status = int(getattr(response, "status_code", 0) or 0)
    error = ""
    if exception is not None or not 200 <= status < 300:
        error = f"{type(exception).__name__ if exception else ''}: " \
                f"{(getattr(response, 'text', None) or '')[:300]}"
    SAMPLES.append((float(response_time), status, error))


@events.quitting.add_listener
def _write(**_: Any) -> None:
    out = os.environ.get("LOAD_OUT")
    if out:
        Path(out).write_text(json.dumps(SAMPLES))


ARRIVALS = os.environ.get("LOAD_ARRIVALS", "poisson")  # "poisson" or "paced"


class RouteUser(FastHttpUser):
    """One client sending at ``USER_RATE`` requests/s on its own schedule (open loop: a slow
    reply does not push the next request later unless it is still running).

    Each user starts at a random point of its period, so users that locust spawned together do
    not fire together. ``constant_throughput`` could not give that: it paces from the moment
    locust created the user, so a random sleep in ``on_start`` only moved the first request
    and every later one fell back into step (measured 2026-12-01: on the NLU route at 50
    requests/s, half the requests reached a worker within 0.9 ms of another, p50 22 ms against
    10 ms for the same rate from one user). The gaps are exponential by default (independent
    clients, random bursts included, the harder test); ``LOAD_ARRIVALS=paced`` keeps a fixed
    period from the random phase.
    """

    def on_start(self) -> None:
        self._next_start = time.perf_counter() + random.uniform(0, 1 / USER_RATE)
        gevent.sleep(self._next_start - time.perf_counter())

    def wait_time(self) -> float:
        gap = random.expovariate(USER_RATE) if ARRIVALS == "poisson" else 1 / USER_RATE
        now = time.perf_counter()
        # Behind schedule (the last reply took longer than the gap): start now rather than
        # sending a burst to catch up.
        self._next_start = max(self._next_start + gap, now)
        return self._next_start - now

    @task
    def call(self) -> None:
        body = next(_next_body)
        if body is None:
            self.client.request(METHOD, PATH, name=PATH)
        else:
            self.client.request(METHOD, PATH, json=body, name=PATH)
