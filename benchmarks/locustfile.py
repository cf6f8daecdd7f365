"""The locust user that ``benchmarks/load_test.py`` runs headless: one route, bodies taken in turn
from a JSON-lines file, each user paced to a fixed rate.

Configured by environment (set by load_test.py): LOAD_METHOD, LOAD_PATH, LOAD_BODIES (a .jsonl
file, or empty for no body), LOAD_USER_RATE (requests per second per user) and LOAD_OUT (where
every request's latency in milliseconds and status are written when locust quits). Locust's own
percentiles round to whole milliseconds; the raw latencies let load_test.py compute exact ones.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path
from typing import Any

import gevent
from locust import constant_throughput, events, task
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


class RouteUser(FastHttpUser):
    wait_time = constant_throughput(USER_RATE)

    def on_start(self) -> None:
        # Each user begins at a random point of its pacing period. Without this, users that
        # locust spawned together fired together, every period, for the whole run:
        # constant_throughput paces each user from its own previous start, so a burst stays a
        # burst. Measured 2026-11-30: 5 users at 2 requests/s each on the NLU route, p50 40 ms
        # (a request waited for the 4 sent with it); 1 user, or 5 staggered clients, 10 ms.
        gevent.sleep(random.uniform(0, 1 / USER_RATE))

    @task
    def call(self) -> None:
        body = next(_next_body)
        if body is None:
            self.client.request(METHOD, PATH, name=PATH)
        else:
            self.client.request(METHOD, PATH, json=body, name=PATH)
