"""A scripted OpenAI-compatible HTTP server, for tests and offline demos.

No capable LLM can be installed on recstack's machines, so the LLM paths are tested against
this real HTTP process speaking the same protocol as OpenAI, vLLM or llama.cpp's server
(``POST /v1/chat/completions``, ``GET /v1/models``). Its answers come from a script: rules
tried in order, each matching a substring of the last user message (or every request when
``when`` is empty), replying with text or failing with an HTTP status. Two control routes,
outside ``/v1``, set the script and read back what it received.

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

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
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
        if rule is None:
            return JSONResponse({"error": {"message": "no scripted rule matches the request",
                                           "type": "invalid_request_error"}}, status_code=400)
        if rule.delay_s:
            await asyncio.sleep(rule.delay_s)
        if rule.status != 200:
            return JSONResponse({"error": {"message": f"scripted failure {rule.status}",
                                           "type": "server_error"}}, status_code=rule.status)
        return JSONResponse({
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", MODEL),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": rule.reply}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})

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
