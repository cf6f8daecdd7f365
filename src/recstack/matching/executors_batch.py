"""The link job's two stages through the OpenAI Batch API's files.

Per chunk of requests: write the 1:N questions as a JSONL file of ``/v1/chat/completions``
requests (``custom_id`` = the left id), upload it, create a batch, poll it through its statuses,
download the output and error files; then the same for the 1:1 questions of the pairs that were
selected. The remote batch ids are remembered in the job (``memo``) as soon as they exist, so a
job killed while a batch runs polls that batch when it resumes instead of sending it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from recstack.matching.executors import EndpointUnavailable, error_line, response_line
from recstack.matching.link import LinkRequest
from recstack.matching.stages import Choice, Verdict, select_messages, verify_messages

__all__ = ["BatchExecutor"]

log = logging.getLogger(__name__)
Memo = Callable[[dict[str, Any]], dict[str, Any]]


class BatchExecutor:
    """Both stages as Batch API batches (one pair of batches per chunk).

    Args:
        client: a :class:`recstack.llm.batches.BatchClient`.
        poll_s: seconds between polls of a running batch.
    """

    name = "batch"
    remembers = True  # execute() takes the chunk key and the job's memo

    def __init__(self, client: Any, *, poll_s: float = 5.0):
        self.client = client
        self.poll_s = poll_s

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> BatchExecutor:
        from recstack.llm.batches import BatchClient

        return cls(BatchClient(settings.llm), **kwargs)

    def execute(self, requests: Sequence[LinkRequest], *, key: str = "chunk",
                memo: Memo | None = None) -> list[dict[str, Any]]:
        from recstack.llm import LLMUnavailable

        memo = memo or _memory()
        try:
            return self._execute(requests, key, memo)
        except LLMUnavailable as exc:
            raise EndpointUnavailable(str(exc)) from exc

    def _execute(self, requests: Sequence[LinkRequest], key: str, memo: Memo
                 ) -> list[dict[str, Any]]:
        from recstack.llm.batches import chat_request

        config = self.client.config
        by_id = {r.custom_id: r for r in requests}
        out: dict[str, dict[str, Any]] = {}
        asked = []
        for request in requests:
            if request.candidates:
                asked.append(chat_request(request.custom_id, select_messages(
                    request.left, [c for _, c in request.candidates]), config, Choice))
            else:
                out[request.custom_id] = response_line(request, selected=None, verified=None,
                                                       executor=self.name)
        chosen: dict[str, tuple[str, Any]] = {}
        for custom_id, answer in self._batch(f"{key}.select", asked, Choice, memo, out,
                                             by_id):
            request = by_id[custom_id]
            if answer.candidate == 0:
                out[custom_id] = response_line(request, selected=None, verified=None,
                                               executor=self.name)
            elif answer.candidate > len(request.candidates):
                out[custom_id] = error_line(request, "invalid_answer", "the model chose "
                                            f"candidate {answer.candidate} of "
                                            f"{len(request.candidates)}")
            else:
                chosen[custom_id] = request.candidates[answer.candidate - 1]
        verify = [chat_request(custom_id, verify_messages(by_id[custom_id].left, right,
                                                        or_nearby=True), config, Verdict)
                  for custom_id, (_, right) in chosen.items()]
        for custom_id, answer in self._batch(f"{key}.verify", verify, Verdict, memo, out,
                                             by_id):
            out[custom_id] = response_line(by_id[custom_id], selected=chosen[custom_id][0],
                                           verified=answer.answer == "yes", executor=self.name)
        return [out.get(r.custom_id) or error_line(r, "missing", "the batch returned no line "
                                                   "for this request") for r in requests]

    def _batch(self, name: str, lines: list[dict[str, Any]], output: type[BaseModel],
               memo: Memo, out: dict[str, dict[str, Any]], by_id: dict[str, LinkRequest]
               ) -> list[tuple[str, Any]]:
        """Run one batch (or find the one this chunk started before a kill); parsed answers
        by custom_id, failures written to ``out`` as error lines."""
        if not lines:
            return []
        batch_id = memo({}).get(name)
        if batch_id is None:
            batch_id = self.client.create(self.client.upload(lines, f"{name}.jsonl")).id
            memo({name: batch_id})  # before polling: a resumed job polls this batch
        info = self.client.wait(batch_id, poll_s=self.poll_s)
        log.info("batch %s (%s): %s, %d completed, %d failed", batch_id, name, info.status,
                 info.completed, info.failed)
        answers = []
        for line in self.client.download(info.output_file_id):
            custom_id = line.get("custom_id")
            if custom_id not in by_id:
                continue
            try:
                content = line["response"]["body"]["choices"][0]["message"]["content"]
                answers.append((custom_id, output.model_validate_json(_unfence(content))))
            except (KeyError, IndexError, TypeError, ValidationError) as exc:
                out[custom_id] = error_line(by_id[custom_id], "invalid_output",
                                            f"not a valid {output.__name__}: {exc}"[:300])
        for line in self.client.download(info.error_file_id):
            custom_id = line.get("custom_id")
            if custom_id in by_id:
                response = line.get("response") or {}
                error = line.get("error") or (response.get("body") or {}).get("error") or {}
                out[custom_id] = error_line(by_id[custom_id],
                                            f"http_{response.get('status_code', 'error')}",
                                            str(error.get("message", error))[:300])
        answered = {custom_id for custom_id, _ in answers} | set(out)
        for line in lines:  # a failed, expired or cancelled batch leaves requests unanswered
            if line["custom_id"] not in answered:
                out[line["custom_id"]] = error_line(
                    by_id[line["custom_id"]], f"batch_{info.status}",
                    "; ".join(info.errors) or f"the batch ended {info.status} before answering")
        return answers


def _unfence(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[4:] if text.startswith("json") else text
    return text.strip()


def _memory() -> Memo:
    """A memo that lives as long as the call (no job to remember in)."""
    saved: dict[str, Any] = {}

    def memo(initial: dict[str, Any]) -> dict[str, Any]:
        for name, value in initial.items():
            saved.setdefault(name, value)
        return dict(saved)

    return memo

