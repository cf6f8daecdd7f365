"""The chat client: plain text or JSON validated against a pydantic model.

Built on the official ``openai`` package (its retries with backoff, timeouts and error types),
pointed at any OpenAI-compatible base URL. Errors become recstack's: a wrong key or model is a
:class:`~recstack.errors.ConfigError` naming the setting; an endpoint that cannot be reached
after the retries is :class:`LLMUnavailable`, which callers answer by taking their default
path; an answer that is not the JSON asked for is :class:`LLMOutputError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from recstack.errors import ConfigError, RecstackError

if TYPE_CHECKING:
    from recstack.llm.config import LLMSettings
    from recstack.settings import Settings

OutputT = TypeVar("OutputT", bound=BaseModel)
Message = dict[str, str]

# Small models wrap JSON in a Markdown fence even when asked not to.
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class LLMUnavailable(RecstackError):
    """The endpoint did not answer (down, timed out, overloaded) after the retries."""

    status_code = 503


class LLMOutputError(RecstackError):
    """The model answered, but not with what was asked for (e.g. JSON that fails its schema)."""

    status_code = 502


def open_chat_client(settings: Settings) -> ChatClient | None:
    """The configured client, or ``None`` when the LLM switch is off (the default)."""
    if not settings.llm.enabled:
        return None
    return ChatClient(settings.llm)


class ChatClient:
    """Chat completions against one OpenAI-compatible endpoint.

    Args:
        config: the ``llm`` settings section (base URL, model, key, timeout, retries).
    """

    def __init__(self, config: LLMSettings):
        try:
            import openai
        except ModuleNotFoundError:
            raise ConfigError("the LLM switch is on but the openai package is not installed",
                              field="RECSTACK_LLM__BASE_URL",
                              fix="pip install -e '.[llm]', or unset the variable to use the "
                                  "default path") from None
        self.config = config
        key = config.api_key.get_secret_value() if config.api_key else "not-needed"
        self._openai = openai
        self._client = openai.OpenAI(base_url=config.base_url, api_key=key,
                                     timeout=config.timeout_s, max_retries=config.max_retries)

    def complete(self, messages: Sequence[Message], *, temperature: float = 0.0,
                 max_tokens: int | None = None) -> str:
        """The assistant's reply to ``messages`` (``[{"role": "system"|"user", "content": …}]``)."""
        return self._create(messages, temperature=temperature, max_tokens=max_tokens)

    def complete_json(self, messages: Sequence[Message], output: type[OutputT], *,
                      temperature: float = 0.0, max_tokens: int | None = None) -> OutputT:
        """The reply parsed into ``output``, a pydantic model whose JSON schema is asked for.

        Raises:
            LLMOutputError: the reply is not JSON or does not fit the schema.
        """
        schema = output.model_json_schema()
        messages = list(messages)
        extra: dict[str, Any] = {}
        mode = self.config.structured_output
        if mode == "json_schema":
            extra["response_format"] = {"type": "json_schema", "json_schema": {
                "name": output.__name__, "schema": schema, "strict": False}}
        else:
            if mode == "json_object":
                extra["response_format"] = {"type": "json_object"}
            # Without a schema in the request the prompt must carry it.
            messages.append({"role": "system", "content": "Answer with one JSON object only, "
                             f"following this JSON schema: {json.dumps(schema)}"})
        text = self._create(messages, temperature=temperature, max_tokens=max_tokens, **extra)
        fenced = _FENCE.match(text)
        try:
            return output.model_validate_json(fenced.group(1) if fenced else text)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "the answer"
            raise LLMOutputError(f"the model's answer is not a valid {output.__name__} "
                                 f"({where}: {problem['msg']}): {text[:200]!r}",
                                 field="RECSTACK_LLM__MODEL",
                                 fix="use a model that follows JSON instructions, or set "
                                     "RECSTACK_LLM__STRUCTURED_OUTPUT to what the server "
                                     "supports") from None

    def _create(self, messages: Sequence[Message], **options: Any) -> str:
        openai = self._openai
        options = {key: value for key, value in options.items() if value is not None}
        try:
            response = self._client.chat.completions.create(
                model=self.config.model, messages=list(messages), **options)  # type: ignore[arg-type]
        except openai.AuthenticationError:
            raise ConfigError("the LLM endpoint refused the key", field="RECSTACK_LLM__API_KEY",
                              fix="set the endpoint's key") from None
        except openai.NotFoundError:
            raise ConfigError(f"the LLM endpoint has no model {self.config.model!r} (or no "
                              "chat completions at this URL)", field="RECSTACK_LLM__MODEL",
                              fix="set a model the server lists at GET /v1/models, and a base "
                                  "URL ending in /v1") from None
        except (openai.APIConnectionError, openai.RateLimitError,
                openai.InternalServerError) as exc:
            raise LLMUnavailable(f"the LLM endpoint {self.config.base_url} did not answer "
                                 f"after {self.config.max_retries} retries ({type(exc).__name__})",
                                 field="RECSTACK_LLM__BASE_URL",
                                 fix="start the server or unset the variable; the default "
                                     "path answers meanwhile") from None
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            raise ConfigError(f"the LLM endpoint rejected the request: {str(exc)[:200]}",
                              field="RECSTACK_LLM__STRUCTURED_OUTPUT",
                              fix="servers without response_format json_schema: set "
                                  "json_object or prompt") from None
        except openai.APIStatusError as exc:
            raise LLMUnavailable(f"the LLM endpoint answered HTTP {exc.status_code}: "
                                 f"{str(exc)[:200]}", field="RECSTACK_LLM__BASE_URL",
                                 fix="check the server's log") from None
        if not response.choices or response.choices[0].message.content is None:
            raise LLMOutputError("the LLM endpoint returned no message content",
                                 field="RECSTACK_LLM__MODEL", fix="check the server's log")
        return response.choices[0].message.content
