"""One OpenAI-compatible client for every LLM step in recstack (spine).

Every LLM step (Text2Cypher, HyDE, the final choice among candidates, place-matching
decisions) has a default path that needs no LLM; the LLM path runs only when
``RECSTACK_LLM__BASE_URL`` is set. Callers ask :func:`open_chat_client` and fall back to their
default path when it returns ``None`` or when a call raises :class:`LLMUnavailable`.
``openai`` is imported only when a client is opened.
"""

from __future__ import annotations

from recstack.llm.client import ChatClient, LLMOutputError, LLMUnavailable, open_chat_client
from recstack.llm.config import LLMSettings

__all__ = ["ChatClient", "LLMOutputError", "LLMSettings", "LLMUnavailable", "open_chat_client"]
