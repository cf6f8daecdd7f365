"""The installed systems: the one list the settings, the service, the CLI and the demo iterate.

Adding a system is its package (with a ``system.py`` declaring a :class:`SystemSpec`) plus one
line in :data:`SYSTEMS`. Entries are ``"module:attribute"`` strings so that listing the systems
imports only their light ``system`` modules.
"""

from __future__ import annotations

from recstack.errors import ConfigError
from recstack.plugins import PluginTable
from recstack.settings import Settings
from recstack.system import ModelKind, SystemSpec, resolve

SYSTEMS: list[str] = [
    "recstack.sequential.system:SPEC",
    "recstack.embeddings.system:SPEC",
    "recstack.treatment.system:SPEC",
    "recstack.nlu.system:SPEC",
    "recstack.matching.system:SPEC",
    "recstack.conversational.system:SPEC",
]


def installed_systems() -> list[SystemSpec]:
    """Every system's spec, in :data:`SYSTEMS` order; names and model kinds must be unique."""
    specs: list[SystemSpec] = []
    for entry in SYSTEMS:
        spec = resolve(entry, field="recstack.systems.SYSTEMS")
        if not isinstance(spec, SystemSpec):
            raise ConfigError(f"{entry!r} is a {type(spec).__name__}, not a SystemSpec",
                              field="recstack.systems.SYSTEMS",
                              fix="point the entry at the system's SPEC")
        if spec.name in {s.name for s in specs}:
            raise ConfigError(f"two systems are named {spec.name!r}",
                              field="recstack.systems.SYSTEMS", fix="rename one")
        specs.append(spec)
    model_kinds(specs)  # fails early on two kinds of one name
    return specs


def model_kinds(specs: list[SystemSpec] | None = None) -> PluginTable[ModelKind]:
    """Name → model kind, over every installed system."""
    table: PluginTable[ModelKind] = PluginTable("model kind", field="kind")
    for spec in installed_systems() if specs is None else specs:
        for kind in spec.model_kinds:
            table.add(kind.name, kind)
    return table


def validate_settings(settings: Settings, specs: list[SystemSpec]) -> None:
    """Build every system's settings section now, so a bad variable fails at start-up."""
    for spec in specs:
        spec.settings_of(settings)
