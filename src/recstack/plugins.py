"""Plugin tables: recommenders, vector indexes, online stores, log stores, embedding models and
drift methods are each registered under a short name and looked up by that name from
configuration.

"Registry" in recstack means the MLflow model registry (``recstack.registry``); a
:class:`PluginTable` is only the name → plugin map of one extension point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from recstack.errors import ConfigError, RecstackError

T = TypeVar("T")
P = TypeVar("P")


class PluginTable(Generic[T]):
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
        """Register ``plugin`` as ``name``; a name taken twice is a programming error."""
        if name in self._plugins:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._plugins[name] = plugin
        return plugin

    def register(self, name: str) -> Callable[[P], P]:
        """Decorator form of :meth:`add`: ``@table.register("sqlite")`` above a class or
        function registers it and returns it unchanged."""
        def decorate(plugin: P) -> P:
            self.add(name, plugin)  # type: ignore[arg-type]
            return plugin
        return decorate

    def get(self, name: str) -> T:
        """The plugin registered as ``name``; raises ``error`` listing the known names."""
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

    def __repr__(self) -> str:
        return f"PluginTable({self.kind!r}: {', '.join(self.names())})"
