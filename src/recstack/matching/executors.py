"""Who answers a link job's requests: the local matcher, or an LLM behind the switch.

Every executor runs the seed's two stages per request: a 1:N selection (which candidate, if
any, is the left record's place) and a 1:1 verification of the chosen pair. It returns one
result line per request, in the Batch API's output shape: ``{"custom_id", "response", "error"}``
with exactly one of the last two set.

- ``local`` (default): the registered matcher scores every candidate pair; the best candidate
  is selected when its score reaches ``select_min`` (lenient, like an LLM's 1:N answer) and
  verified when it reaches ``verify_min`` (the matcher's decision boundary).
- ``chat``: an OpenAI-compatible chat endpoint (``recstack.llm``) asked the seed's questions
  with structured output, with bounded concurrency and per-request retries with backoff.
- ``batch``: the same prompts through the Batch API's files (:mod:`.executors_batch`).

A request that cannot be answered after its retries becomes an error line (re-processed by
``recstack match jobs retry``); an endpoint that cannot be reached at all raises
:class:`EndpointUnavailable`, which pauses the job with its requests pending.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from recstack.matching.link import LinkRequest
from recstack.matching.stages import LLMJudge, run_two_stages

__all__ = ["ChatExecutor", "EndpointUnavailable", "Executor", "LocalExecutor", "error_line",
           "response_line"]

log = logging.getLogger(__name__)


class EndpointUnavailable(Exception):
    """The executor's endpoint cannot be reached: the job pauses, nothing is lost."""


class Executor(Protocol):
    name: str

    def execute(self, requests: Sequence[LinkRequest]) -> list[dict[str, Any]]:
        """One result line per request, in order (see the module docstring)."""
        ...  # pragma: no cover - protocol


def response_line(request: LinkRequest, *, selected: str | None, verified: bool | None,
                  score: float | None = None, executor: str) -> dict[str, Any]:
    """A completed request: ``match`` is the verified right id (None: no match)."""
    return {"custom_id": request.custom_id, "error": None, "response": {
        "left_id": request.custom_id, "selected": selected, "verified": verified,
        "match": selected if verified else None, "score": score,
        "candidates": len(request.candidates), "executor": executor}}


def error_line(request: LinkRequest, code: str, message: str) -> dict[str, Any]:
    return {"custom_id": request.custom_id, "response": None,
            "error": {"code": code, "message": message}}


class LocalExecutor:
    """Both stages with a registered matcher (a ``MatchBundle``), in one scoring call per chunk.

    Args:
        bundle: the matcher (anything with ``score(PairSet) -> probabilities``).
        select_min: the best candidate is selected when its score reaches this.
        verify_min: the selected pair is a match when its score reaches this.
    """

    name = "local"

    def __init__(self, bundle: Any, *, select_min: float = 0.2, verify_min: float = 0.5):
        self.bundle = bundle
        self.select_min = select_min
        self.verify_min = verify_min

    def execute(self, requests: Sequence[LinkRequest]) -> list[dict[str, Any]]:
        results = run_two_stages([r.left for r in requests],
                                 [[record for _, record in r.candidates] for r in requests],
                                 self.bundle, self.bundle, select_threshold=self.select_min,
                                 verify_threshold=self.verify_min)
        out = []
        for request, (chosen, check) in zip(requests, results, strict=True):
            score = None if chosen.score != chosen.score else chosen.score  # nan: no candidates
            selected = None if chosen.index is None else request.candidates[chosen.index][0]
            out.append(response_line(request, selected=selected,
                                     verified=None if check is None else check.match,
                                     score=score, executor=self.name))
        return out


class ChatExecutor:
    """Both stages as chat questions with structured answers, ``concurrency`` at a time.

    Args:
        client: a ``recstack.llm.ChatClient`` (``complete_json(messages, output=Model)``).
        concurrency: requests in flight at once (each asks one or two questions in turn).
        max_attempts: tries of one question whose answer does not fit the schema.
        backoff_s: first wait between tries; doubled each time (with jitter), at most 30 s.
    """

    name = "chat"

    def __init__(self, client: Any, *, concurrency: int = 4, max_attempts: int = 3,
                 backoff_s: float = 0.5):
        self.judge = LLMJudge(client, max_attempts=max_attempts, backoff_s=backoff_s,
                              or_nearby=True)
        self.concurrency = max(1, concurrency)

    def execute(self, requests: Sequence[LinkRequest]) -> list[dict[str, Any]]:
        from recstack.llm import LLMUnavailable

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = [pool.submit(self._one, request) for request in requests]
            try:
                return [future.result() for future in futures]
            except LLMUnavailable as exc:
                for future in futures:  # the chunk is redone on resume: stop sending now
                    future.cancel()
                raise EndpointUnavailable(str(exc)) from exc

    def _one(self, request: LinkRequest) -> dict[str, Any]:
        from recstack.llm import LLMOutputError

        if not request.candidates:
            return response_line(request, selected=None, verified=None, executor=self.name)
        try:
            chosen = self.judge.ask_select(request.left, [c for _, c in request.candidates])
            if chosen == 0:
                return response_line(request, selected=None, verified=None, executor=self.name)
            if chosen > len(request.candidates):
                return error_line(request, "invalid_answer", f"the model chose candidate "
                                  f"{chosen} of {len(request.candidates)}")
            right_id, right = request.candidates[chosen - 1]
            yes = self.judge.ask_verify(request.left, right)
        except LLMOutputError as exc:
            return error_line(request, "invalid_output", str(exc))
        return response_line(request, selected=right_id, verified=yes, executor=self.name)


def make_executor(params: dict[str, Any], settings: Any) -> Executor:
    """The executor a job's pinned parameters name (``executor``, ``model``, ``concurrency``,
    ``max_attempts``, ``poll_s``; ``select_min``, ``verify_min`` for ``local``).

    Raises:
        ConfigError: an unknown executor, or ``chat``/``batch`` while the LLM switch is off.
    """
    from recstack.errors import ConfigError

    name = params.get("executor", "local")
    if name == "local":
        from recstack.matching.pipeline import load_bundle

        bundle, _ = load_bundle(str(params["model"]), settings)
        return LocalExecutor(bundle, select_min=float(params.get("select_min", 0.2)),
                             verify_min=float(params.get("verify_min", 0.5)))
    if name not in ("chat", "batch"):
        raise ConfigError(f"unknown executor {name!r}", field="--executor",
                          fix="use local, chat or batch")
    from recstack.llm import open_chat_client

    client = open_chat_client(settings)
    if client is None:
        raise ConfigError(f"the {name} executor needs an OpenAI-compatible endpoint, and the "
                          "LLM switch is off", field="--executor",
                          fix="set RECSTACK_LLM__BASE_URL (and RECSTACK_LLM__MODEL), or use "
                              "--executor local")
    if name == "chat":
        return ChatExecutor(client, concurrency=int(params.get("concurrency", 4)),
                            max_attempts=int(params.get("max_attempts", 3)))
    from recstack.matching.executors_batch import BatchExecutor

    return BatchExecutor.from_settings(settings, poll_s=float(params.get("poll_s", 5.0)))
