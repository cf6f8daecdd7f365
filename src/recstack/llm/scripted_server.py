"""A scripted OpenAI-compatible HTTP server, for tests and offline demos.

No capable LLM can be installed on recstack's machines, so the LLM paths are tested against
this real HTTP process speaking the same protocol as OpenAI, vLLM or llama.cpp's server
(``POST /v1/chat/completions``, ``GET /v1/models``, and the Batch API's ``/v1/files`` and
``/v1/batches``: each poll of a batch moves it one status on, validating → in_progress →
finalizing → completed, and its requests are answered from the same script). Its answers
come from a script: rules tried in order, each matching a substring of the last user message
(or every request when ``when`` is empty), replying with text or failing with an HTTP status.
Two control routes, outside ``/v1``, set the script and read back what it received.

Run: ``python -m recstack.llm.scripted_server --port 8089 [--script rules.json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

MODEL = "scripted"


class Rule(BaseModel):
    """One scripted answer."""

    when: str = Field("", description="substring of the last user message; empty = any request")
    reply: str = Field("", description="the assistant's content")
    status: int = Field(200, description="an HTTP error status to answer with instead")
    delay_s: float = Field(0.0, ge=0, description="wait before answering (timeouts)")
    times: int | None = Field(None, ge=1, description="use the rule this many times only")


class Script:
    """The rules and the log of received requests, shared by the handlers."""

    def __init__(self, rules: list[Rule] | None = None):
        self._lock = threading.Lock()
        self.rules = list(rules or [])
        self.received: list[dict[str, Any]] = []

    def answer(self, body: dict[str, Any]) -> Rule | None:
        messages = body.get("messages") or []
        last_user = next((str(m.get("content", "")) for m in reversed(messages)
                          if m.get("role") == "user"), "")
        with self._lock:
            self.received.append(body)
            for rule in self.rules:
                if rule.when in last_user and rule.times != 0:
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None


def create_app(script: Script | None = None) -> FastAPI:
    script = script or Script()
    app = FastAPI(title="scripted OpenAI-compatible server")

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        model = {"id": MODEL, "object": "model", "owned_by": "recstack"}
        return {"object": "list", "data": [model]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> JSONResponse:
        body = await request.json()
        # Kept beside the body so tests can check the key travels as a bearer token.
        body["_authorization"] = request.headers.get("authorization", "")
        rule = script.answer(body)
        if rule is not None and rule.delay_s:
            await asyncio.sleep(rule.delay_s)
        status, payload = _completion(body, rule)
        return JSONResponse(payload, status_code=status)

    _batch_routes(app, script)

    @app.put("/_script")
    def set_script(rules: list[Rule]) -> dict[str, int]:
        with script._lock:
            script.rules = rules
            script.received.clear()
        return {"rules": len(rules)}

    @app.get("/_requests")
    def requests() -> list[dict[str, Any]]:
        with script._lock:
            return list(script.received)

    app.state.script = script
    return app


def _completion(body: dict[str, Any], rule: Rule | None) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON answer of one chat completion request."""
    if rule is None:
        return 400, {"error": {"message": "no scripted rule matches the request",
                               "type": "invalid_request_error"}}
    if rule.status != 200:
        return rule.status, {"error": {"message": f"scripted failure {rule.status}",
                                       "type": "server_error"}}
    return 200, {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
        "created": int(time.time()), "model": body.get("model", MODEL),
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": rule.reply}}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}


_NEXT_STATUS = {"validating": "in_progress", "in_progress": "finalizing",
                "finalizing": "completed", "cancelling": "cancelled"}


def _batch_routes(app: FastAPI, script: Script) -> None:
    """The Batch API: upload a JSONL file, create a batch on it, poll it, download results."""
    files: dict[str, dict[str, Any]] = {}
    batches: dict[str, dict[str, Any]] = {}

    def missing(kind: str, name: str) -> JSONResponse:
        return JSONResponse({"error": {"message": f"no {kind} {name!r}",
                                       "type": "invalid_request_error"}}, status_code=404)

    def store_file(data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"id": f"file-{uuid.uuid4().hex[:12]}", "object": "file",
                                "bytes": len(data),
                                "created_at": int(time.time()), "filename": filename,
                                "purpose": purpose, "status": "processed"}
        files[meta["id"]] = {**meta, "_data": data}
        return meta

    def public(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if not k.startswith("_")}

    def run_batch(batch: dict[str, Any]) -> None:
        outputs: list[str] = []
        errors: list[str] = []
        for text in files[batch["input_file_id"]]["_data"].decode().splitlines():
            if not text.strip():
                continue
            line = json.loads(text)
            status, payload = _completion(line["body"], script.answer(line["body"]))
            result = {"id": f"batch_req_{uuid.uuid4().hex[:12]}", "custom_id": line["custom_id"],
                      "response": {"status_code": status,
                                   "request_id": uuid.uuid4().hex[:12], "body": payload},
                      "error": None}
            (outputs if status == 200 else errors).append(json.dumps(result))
        for kind, lines in (("output_file_id", outputs), ("error_file_id", errors)):
            if lines:
                batch[kind] = store_file(("\n".join(lines) + "\n").encode(),
                                         f"{batch['id']}_{kind}.jsonl", "batch_output")["id"]
        batch["request_counts"] = {"total": len(outputs) + len(errors),
                                   "completed": len(outputs), "failed": len(errors)}

    @app.post("/v1/files")
    async def upload(file: UploadFile, purpose: str = Form(...)) -> dict[str, Any]:
        return store_file(await file.read(), file.filename or "upload.jsonl", purpose)

    @app.get("/v1/files/{file_id}", response_model=None)
    def file_info(file_id: str) -> dict[str, Any] | JSONResponse:
        return public(files[file_id]) if file_id in files else missing("file", file_id)

    @app.get("/v1/files/{file_id}/content", response_model=None)
    def file_content(file_id: str) -> PlainTextResponse | JSONResponse:
        if file_id not in files:
            return missing("file", file_id)
        return PlainTextResponse(files[file_id]["_data"].decode())

    @app.post("/v1/batches", response_model=None)
    async def create_batch(request: Request) -> dict[str, Any] | JSONResponse:
        body = await request.json()
        if body.get("input_file_id") not in files:
            return missing("file", str(body.get("input_file_id")))
        batch = {"id": f"batch_{uuid.uuid4().hex[:12]}", "object": "batch",
                 "endpoint": body.get("endpoint"), "input_file_id": body["input_file_id"],
                 "completion_window": body.get("completion_window", "24h"),
                 "status": "validating", "created_at": int(time.time()),
                 "output_file_id": None, "error_file_id": None, "errors": None,
                 "metadata": body.get("metadata"),
                 "request_counts": {"total": 0, "completed": 0, "failed": 0}}
        batches[batch["id"]] = batch
        return batch

    @app.get("/v1/batches/{batch_id}", response_model=None)
    def poll_batch(batch_id: str) -> dict[str, Any] | JSONResponse:
        if batch_id not in batches:
            return missing("batch", batch_id)
        batch = batches[batch_id]
        following = _NEXT_STATUS.get(batch["status"])
        if following == "completed":
            run_batch(batch)
        if following:
            batch["status"] = following
        return batch

    @app.post("/v1/batches/{batch_id}/cancel", response_model=None)
    def cancel_batch(batch_id: str) -> dict[str, Any] | JSONResponse:
        if batch_id not in batches:
            return missing("batch", batch_id)
        if batches[batch_id]["status"] not in ("completed", "failed", "expired", "cancelled"):
            batches[batch_id]["status"] = "cancelling"
        return batches[batch_id]


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--script", type=Path, help="JSON list of rules")
    args = parser.parse_args()
    rules = ([Rule.model_validate(rule) for rule in json.loads(args.script.read_text())]
             if args.script else [])
    uvicorn.run(create_app(Script(rules)), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
