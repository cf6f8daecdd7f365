"""The OpenAI Batch API's file and batch calls, against the endpoint of the LLM switch.

A batch is a JSONL file of requests, each ``{"custom_id", "method": "POST", "url":
"/v1/chat/completions", "body": {...}}``, uploaded with purpose ``batch``; the batch is created
on that file, polled through its statuses (``validating``, ``in_progress``, ``finalizing``,
``completed`` or ``failed``, ``expired``, ``cancelling``, ``cancelled``) and its output and
error files are downloaded as JSONL (one line per request, by ``custom_id``). Generic: any
caller that can write request bodies can use it (:func:`chat_request` writes chat ones, with the
structured output the switch asks for).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from recstack.errors import ConfigError
from recstack.llm.client import LLMUnavailable

if TYPE_CHECKING:
    from recstack.llm.config import LLMSettings
    from recstack.settings import Settings

__all__ = ["BATCH_TERMINAL", "BatchClient", "BatchInfo", "chat_request", "open_batch_client"]

BATCH_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
ENDPOINT = "/v1/chat/completions"


@dataclass
class BatchInfo:
    """What a poll says about one batch."""

    id: str
    status: str
    output_file_id: str | None
    error_file_id: str | None
    total: int
    completed: int
    failed: int
    errors: list[str]  # validation errors of a failed batch


def chat_request(custom_id: str, messages: Sequence[dict[str, str]], config: LLMSettings,
                 output: type[BaseModel] | None = None, **options: Any) -> dict[str, Any]:
    """One batch input line asking for a chat completion (JSON fitting ``output`` when given,
    asked for the way ``config.structured_output`` says, as :class:`ChatClient` does)."""
    body: dict[str, Any] = {"model": config.model, "messages": list(messages), "temperature": 0.0,
                            **options}
    if output is not None:
        schema = output.model_json_schema()
        if config.structured_output == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": output.__name__, "schema": schema, "strict": False}}
        else:
            if config.structured_output == "json_object":
                body["response_format"] = {"type": "json_object"}
            body["messages"] = [*body["messages"], {
                "role": "system", "content": "Answer with one JSON object only, following "
                                            f"this JSON schema: {json.dumps(schema)}"}]
    return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}


def open_batch_client(settings: Settings) -> BatchClient | None:
    """The Batch API client of the configured endpoint, or None when the switch is off."""
    return BatchClient(settings.llm) if settings.llm.enabled else None


class BatchClient:
    """Upload, create, poll, download and cancel batches on one OpenAI-compatible endpoint.

    Connection errors, 429 and 5xx (after the ``openai`` package's retries) are
    :class:`~recstack.llm.LLMUnavailable`; a refused key is a ConfigError.
    """

    def __init__(self, config: LLMSettings):
        try:
            import openai
        except ModuleNotFoundError:
            raise ConfigError("the Batch API needs the openai package",
                              field="RECSTACK_LLM__BASE_URL",
                              fix="pip install -e '.[llm]', or unset the variable") from None
        self.config = config
        self._openai = openai
        key = config.api_key.get_secret_value() if config.api_key else "not-needed"
        self._client = openai.OpenAI(base_url=config.base_url, api_key=key,
                                     timeout=config.timeout_s, max_retries=config.max_retries)

    def upload(self, lines: Sequence[dict[str, Any]], name: str = "batch.jsonl") -> str:
        """Upload request lines as a ``batch`` file; returns the file id."""
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
        return str(self._call(lambda c: c.files.create(file=(name, data), purpose="batch")).id)

    def create(self, input_file_id: str, metadata: dict[str, str] | None = None) -> BatchInfo:
        """Start a batch of chat completions on an uploaded file (24 h window)."""
        extra: dict[str, Any] = {"metadata": metadata} if metadata else {}
        return _info(self._call(lambda c: c.batches.create(
            input_file_id=input_file_id, endpoint=ENDPOINT, completion_window="24h", **extra)))

    def retrieve(self, batch_id: str) -> BatchInfo:
        return _info(self._call(lambda c: c.batches.retrieve(batch_id)))

    def cancel(self, batch_id: str) -> BatchInfo:
        return _info(self._call(lambda c: c.batches.cancel(batch_id)))

    def download(self, file_id: str | None) -> list[dict[str, Any]]:
        """A result file's lines (none for a missing file id)."""
        if not file_id:
            return []
        text = self._call(lambda c: c.files.content(file_id)).text
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def wait(self, batch_id: str, *, poll_s: float = 5.0, timeout_s: float | None = None,
             on_poll: Callable[[BatchInfo], None] | None = None) -> BatchInfo:
        """Poll until the batch is in a terminal status (or ``timeout_s`` passes: the last
        poll is returned, still running)."""
        started = time.monotonic()
        while True:
            info = self.retrieve(batch_id)
            if on_poll:
                on_poll(info)
            if info.status in BATCH_TERMINAL:
                return info
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                return info
            time.sleep(poll_s)

    def _call(self, call: Callable[[Any], Any]) -> Any:
        openai = self._openai
        try:
            return call(self._client)
        except openai.AuthenticationError:
            raise ConfigError("the LLM endpoint refused the key", field="RECSTACK_LLM__API_KEY",
                              fix="set the endpoint's key") from None
        except (openai.APIConnectionError, openai.RateLimitError,
                openai.InternalServerError) as exc:
            raise LLMUnavailable(f"the Batch API at {self.config.base_url} did not answer "
                                 f"after {self.config.max_retries} retries ({type(exc).__name__})",
                                 field="RECSTACK_LLM__BASE_URL",
                                 fix="start the server, then resume") from None
        except openai.APIStatusError as exc:
            raise ConfigError(f"the Batch API refused the call: HTTP {exc.status_code} "
                              f"{str(exc)[:200]}", field="RECSTACK_LLM__BASE_URL",
                              fix="use an endpoint with /v1/files and /v1/batches") from None


def _info(batch: Any) -> BatchInfo:
    counts = getattr(batch, "request_counts", None)
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    return BatchInfo(id=batch.id, status=batch.status, output_file_id=batch.output_file_id,
                     error_file_id=batch.error_file_id,
                     total=int(getattr(counts, "total", 0) or 0),
                     completed=int(getattr(counts, "completed", 0) or 0),
                     failed=int(getattr(counts, "failed", 0) or 0),
                     errors=[str(getattr(e, "message", e)) for e in errors])
