"""The system plug: what a system declares so that the spine can configure, serve, list and demo it.

A system (sequential recommender, item embeddings, treatment recommendation, …) is one package
that declares one :class:`SystemSpec`. The settings tree, the HTTP service, the command line and
the demo iterate over the list of specs in :mod:`recstack.systems`; none of them names a system.

Everything a spec points at is a ``"module:attribute"`` string resolved on first use
(:func:`pkgutil.resolve_name`): ``recstack --help`` imports each system's light command module,
the service imports routers, and nothing imports a model (or torch) until a request needs it.
"""

from __future__ import annotations

import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from recstack.errors import ConfigError
from recstack.registry.bundles import KIND_TAG

if TYPE_CHECKING:
    from recstack.settings import Settings


class SystemSettings(BaseSettings):
    """Base of a system's settings section, read from ``RECSTACK_<SYSTEM>__<FIELD>``.

    A subclass adds the system's own fields, each with a default and a description; the prefix
    comes from the spec's name (``Settings.section`` builds it), so a section class never
    repeats it.
    """

    model_config = SettingsConfigDict(extra="forbid", env_nested_delimiter="__",
                                      hide_input_in_errors=True)

    default_model: str | None = Field(
        None, description="model reference served when a request names none (NAME@ALIAS)")


@dataclass(frozen=True)
class ModelKind:
    """A kind of registered model that a system trains and serves.

    Args:
        name: stored on every registered version as the ``kind`` tag.
        loader: ``"module:function"`` turning a downloaded bundle folder into the served object.
        metrics: version tags that ``recstack models list`` and ``GET /v1/models`` show for this
            kind (``valid_ndcg_at_10`` for a recommender, coverage for a treatment model).
        model_types: ``model_type`` tags of this kind, to recognise versions registered before
            the ``kind`` tag existed.
        pyfunc: the models-from-code file's module that MLflow runs to load this kind.
        default_model_setting: the field of the system's settings that names the default model.
    """

    name: str
    loader: str
    metrics: tuple[str, ...] = ()
    model_types: tuple[str, ...] = ()
    pyfunc: str | None = None
    default_model_setting: str = "default_model"

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Whether a registered version with these tags is of this kind (its ``kind`` tag,
        else its ``model_type`` for versions registered before that tag existed)."""
        tagged = tags.get(KIND_TAG)
        return tagged == self.name if tagged else tags.get("model_type") in self.model_types

    def reported_metrics(self, tags: Mapping[str, str]) -> dict[str, str]:
        """The metric tags this kind reports that a version carries, in this kind's order."""
        return {name: tags[name] for name in self.metrics if name in tags}

    def load(self, folder: Any) -> Any:
        return resolve(self.loader, field=f"model kind {self.name}: loader")(folder)


def kind_of(tags: Mapping[str, str], kinds: Iterable[ModelKind]) -> ModelKind | None:
    """The kind (among ``kinds``) of a registered version with these tags, if any."""
    return next((kind for kind in kinds if kind.matches(tags)), None)


@dataclass(frozen=True)
class Resource:
    """Something the service opens at start-up and closes at shutdown (a connection, a pool).

    ``factory`` is ``"module:function"`` taking the settings; the object it returns is closed with
    its ``close()`` method, if it has one, in reverse order of opening.
    """

    name: str
    factory: str


@dataclass(frozen=True)
class DemoStep:
    """One step of ``recstack demo``: ``run(settings, console, quick) -> DemoOutcome``.

    Steps run in ascending ``order`` (the travel catalogue is published to the feature store
    before the models that read it).
    """

    title: str
    run: str
    order: int = 50


@dataclass
class DemoOutcome:
    """What a demo step leaves behind: lines to show the user (example requests)."""

    summary: str = ""
    examples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SystemSpec:
    """Everything the spine needs to know about one system.

    Args:
        name: short name; the settings section (``RECSTACK_<NAME>__…``) and default CLI group.
        summary: one line for ``recstack --help`` and the service's description.
        settings: the system's settings section class.
        model_kinds: kinds of registered model it trains and serves.
        router: ``"module:attribute"`` of its FastAPI ``APIRouter``.
        cli: ``"module:attribute"`` of its Typer app.
        cli_name: the command group's name when it differs from ``name``.
        demo: its step in ``recstack demo``.
        resources: what the service must open and close for it.
        pipelines: ``"module:attribute"`` of its list of :class:`recstack.pipelines.Pipeline`
            (what ``recstack pipeline run`` and the Airflow DAGs schedule).
    """

    name: str
    summary: str
    settings: type[SystemSettings] = SystemSettings
    model_kinds: tuple[ModelKind, ...] = ()
    router: str | None = None
    cli: str | None = None
    cli_name: str | None = None
    demo: DemoStep | None = None
    resources: tuple[Resource, ...] = ()
    pipelines: str | None = None

    @property
    def command(self) -> str:
        return self.cli_name or self.name

    def settings_of(self, settings: Settings) -> Any:
        """This system's section of ``settings`` (environment and overrides applied)."""
        return settings.section(self.name, self.settings)

    def default_model(self, settings: Settings, kind: ModelKind) -> str | None:
        value = getattr(self.settings_of(settings), kind.default_model_setting, None)
        return None if value is None else str(value)


def resolve(target: str, *, field: str) -> Any:
    """The object a ``"module:attribute"`` string names, or a ConfigError naming ``field``."""
    try:
        return pkgutil.resolve_name(target)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"cannot load {target!r}: {exc}", field=field,
                          fix="check the system's spec (module:attribute)") from exc
