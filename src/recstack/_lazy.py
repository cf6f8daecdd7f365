"""Lazy package exports (PEP 562): a package names its public objects and the submodule of
each, and a submodule is imported only when one of its names is first used.

Why: ``recstack.settings`` imports the config modules of ``recstack.features`` and
``recstack.monitoring``, and ``recstack --help`` or a treatment-only service must not pay for
DuckDB, SciPy, torch or gensim. Packages keep ``if TYPE_CHECKING:`` imports of the same names so
that type checkers and IDEs still see them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package``.

    Args:
        package: the package's ``__name__``.
        exports: submodule (relative to the package) → names it exports.

    Returns:
        ``(__getattr__, __dir__, __all__)`` to assign at module level. ``__getattr__`` imports
        the submodule of a known name and returns the object; any other name raises
        ``AttributeError`` as a module would. ``__dir__`` lists the exports with whatever the
        module already holds; ``__all__`` is the exports, sorted.

    Raises:
        ValueError: a name is exported by two submodules.
    """
    home: dict[str, str] = {}
    for module, names in exports.items():
        for name in names:
            if name in home:
                raise ValueError(f"{package}: {name!r} exported by both {home[name]!r} "
                                 f"and {module!r}")
            home[name] = module
    public = sorted(home)

    def __getattr__(name: str) -> Any:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{home[name]}"), name)

    def __dir__() -> list[str]:
        # What the module already holds (dunders, imported submodules) plus the lazy names.
        return sorted(set(vars(sys.modules[package])) | home.keys())

    return __getattr__, __dir__, list(public)
