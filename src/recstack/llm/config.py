"""The LLM switch: one OpenAI-compatible endpoint, off unless a base URL is set.

Kept apart from the client so that ``recstack.settings`` can hold these fields without
importing ``openai``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class LLMSettings(BaseModel):
    """``RECSTACK_LLM__*``: every LLM step in recstack reads these, and none runs without them."""

    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1 (vLLM, "
                          "llama.cpp server, Ollama) or https://api.openai.com/v1; unset = every "
                          "LLM step uses its default path, which needs no LLM")
    model: str = Field("gpt-4o-mini", min_length=1, description="model name the endpoint serves")
    api_key: SecretStr | None = Field(
        None, description="sent as a bearer token; local servers usually need none")
    timeout_s: float = Field(30.0, gt=0, description="seconds one request may take")
    max_retries: int = Field(2, ge=0, le=10, description="retries on connection errors, 429 "
                                                           "and 5xx, with exponential backoff")
    structured_output: Literal["json_schema", "json_object", "prompt"] = Field(
        "json_schema", description="how JSON answers are asked for: the response_format "
        "json_schema (OpenAI, vLLM, llama.cpp), json_object (older servers), or only the "
        "prompt (servers with neither); the answer is validated in every case")

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)
