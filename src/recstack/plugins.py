"""Named plugins: recommenders, vector indexes, online stores and drift methods are each
registered under a short name by a decorator and looked up by that name from configuration."""

from __future__ import annotations

from typing import Generic, TypeVar

from recstack.errors import ConfigError, RecstackError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name → plugin, filled at import; an unknown name is a user error listing the known ones.

    Args:
        kind: what the plugins are, for messages ("model", "index backend", …).
        field: the setting or option that names one (the error's ``field``).
        error: the error type for an unknown name.
    """

    def __init__(self, kind: str, field: str, error: type[RecstackError] = ConfigError):
        self.kind = kind
        self.field = field
        self.error = error
        self._plugins: dict[str, T] = {}

    def add(self, name: str, plugin: T) -> T:
        if name in self._plugins:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._plugins[name] = plugin
        return plugin

    def get(self, name: str) -> T:
        if name not in self._plugins:
            raise self.error(f"unknown {self.kind} {name!r}", field=self.field,
                             fix=f"use one of: {', '.join(self.names())}")
        return self._plugins[name]

    def names(self) -> list[str]:
        return sorted(self._plugins)

    def as_dict(self) -> dict[str, T]:
        return dict(self._plugins)

    def __contains__(self, name: object) -> bool:
        return name in self._plugins
