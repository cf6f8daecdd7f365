"""What a pipeline is: named tasks (plain functions), the parameters they take, and the data
interval they cover.

A task is ``fn(settings, run: TaskInput) -> dict``: it reads small JSON parameters and the
summaries of the tasks before it from ``run`` and returns a small JSON summary of its own (run
id, version, metrics, counts). Nothing here knows about Airflow: the DAG files in ``dags/`` and
``recstack pipeline run`` both call :func:`recstack.pipelines.run_task` with a data interval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from recstack.errors import ConfigError, DataError

if TYPE_CHECKING:
    from recstack.settings import Settings

Summary = dict[str, Any]
TaskFunction = Callable[["Settings", "TaskInput"], Summary]
DataRange = Callable[["Settings", Mapping[str, Any]], tuple[pd.Timestamp, pd.Timestamp]]
_TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}


@dataclass(frozen=True)
class Param:
    """One pipeline parameter; its type is its default's (bool, int, float or str).

    Args:
        name: the key of ``--param NAME=VALUE`` and of the DAG's ``params``.
        default: JSON value used when the run does not set it.
        help: one line for ``recstack pipeline list`` and the Airflow form.
    """

    name: str
    default: bool | int | float | str
    help: str = ""

    @property
    def json_type(self) -> str:
        return _TYPES[type(self.default)]

    def parse(self, value: Any) -> bool | int | float | str:
        """``value`` (text from the command line, or JSON from Airflow) as this param's type."""
        kind = type(self.default)
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        text = str(value).strip()
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                return text.lower() in ("true", "1", "yes")
            return kind(text)
        except ValueError:
            raise ConfigError(f"{value!r} is not a {self.json_type}", field=f"--param {self.name}",
                              fix=f"give a {self.json_type}, e.g. {self.name}={self.default}"
                              ) from None


@dataclass(frozen=True)
class Task:
    """One step of a pipeline: ``run(settings, TaskInput) -> summary``."""

    name: str
    run: TaskFunction
    help: str = ""


@dataclass(frozen=True)
class Pipeline:
    """An ordered list of tasks that a scheduler (or ``recstack pipeline run``) runs per interval.

    Args:
        name: unique over every system (``recstack pipeline run NAME``; DAG ``recstack_NAME``).
        summary: one line.
        tasks: run in this order; each sees the summaries of those before it.
        params: what a run may set; anything else is refused.
        schedule: the interval a scheduler runs it for: ``daily``, ``weekly`` or ``none``
            (triggered by hand).
        data_range: ``(settings, params) -> (first, last)`` event times the data holds, so that
            a run for a date outside them fails before any task starts.
        system: the system that declared it (filled in by the registry).
    """

    name: str
    summary: str
    tasks: tuple[Task, ...]
    params: tuple[Param, ...] = ()
    schedule: str = "daily"
    data_range: DataRange | None = None
    system: str = ""

    def __post_init__(self) -> None:
        if self.schedule not in ("daily", "weekly", "none"):
            raise ConfigError(f"pipeline {self.name}: unknown schedule {self.schedule!r}",
                              field="schedule", fix="use daily, weekly or none")
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names) or not names:
            raise ConfigError(f"pipeline {self.name}: task names must be unique and non-empty",
                              field="tasks", fix="rename the duplicate task")

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise ConfigError(f"pipeline {self.name} has no task {name!r}", field="task",
                          fix=f"use one of: {', '.join(t.name for t in self.tasks)}")

    def resolve_params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overridden by ``given``; an unknown key names the known ones."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ConfigError(f"pipeline {self.name} has no parameter {unknown[0]!r}",
                              field=f"--param {unknown[0]}",
                              fix=f"use one of: {', '.join(known) or 'none'} "
                                  f"(see `recstack pipeline list`)")
        return {name: p.parse(given[name]) if name in given else p.default
                for name, p in known.items()}

    @property
    def interval(self) -> pd.Timedelta:
        return pd.Timedelta(days=7 if self.schedule == "weekly" else 1)


@dataclass(frozen=True)
class TaskInput:
    """What one task gets: parameters, its data interval ``[start, end)`` and earlier summaries.

    Everything is JSON so that a scheduler can carry it between processes.
    """

    pipeline: str
    params: dict[str, Any]
    start: str  # ISO time, UTC
    end: str
    upstream: dict[str, Summary] = field(default_factory=dict)

    @property
    def start_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.start)

    @property
    def end_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.end)

    @property
    def label(self) -> str:
        """The interval's first day, ``YYYY-MM-DD`` (folder and run names)."""
        return self.start_ts.strftime("%Y-%m-%d")

    def output(self, task: str) -> Summary:
        """The summary an earlier task returned."""
        if task not in self.upstream:
            raise ConfigError(f"task {task!r} has not run before this one", field="upstream",
                              fix=f"run the pipeline {self.pipeline} from its first task")
        return self.upstream[task]

    def workdir(self, settings: Settings) -> Path:
        """``<home>/pipelines/<pipeline>/<interval start>``: files a run writes."""
        folder = settings.home.resolve() / "pipelines" / self.pipeline / self.label
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def utc(value: Any, *, field: str = "--date") -> pd.Timestamp:
    """A UTC timestamp from a date, ISO text, datetime or pendulum object."""
    try:
        stamp = pd.Timestamp(value.isoformat() if hasattr(value, "isoformat") else value)
    except (ValueError, TypeError):
        raise ConfigError(f"{value!r} is not a date", field=field,
                          fix="write YYYY-MM-DD, e.g. 2026-01-31") from None
    if stamp is pd.NaT:
        raise ConfigError("no date given", field=field, fix="write YYYY-MM-DD")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def day_interval(date: Any, pipeline: Pipeline) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The interval a scheduler would run for ``date``: ``[date, date + 1 day (or week))``."""
    start = utc(date).floor("D")
    return start, start + pipeline.interval


def check_in_range(pipeline: Pipeline, settings: Settings, params: Mapping[str, Any],
                   start: pd.Timestamp, end: pd.Timestamp) -> None:
    """A DataError when ``[start, end)`` misses every event the data holds."""
    if pipeline.data_range is None:
        return
    first, last = (utc(t) for t in pipeline.data_range(settings, params))
    if end <= first or start > last:
        raise DataError(
            f"{start:%Y-%m-%d} is outside the data of pipeline {pipeline.name} "
            f"({first:%Y-%m-%d} to {last:%Y-%m-%d})", field="--date",
            fix=f"pick a date from {first:%Y-%m-%d} to {last:%Y-%m-%d}")
