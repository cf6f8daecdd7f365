"""Find the pipelines the installed systems declare, and run one task or a whole pipeline.

The spine never names a system: callers (the CLI, the DAG files) pass the specs from
:mod:`recstack.systems`, and each spec's ``pipelines`` points at its list of
:class:`~recstack.pipelines.base.Pipeline`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from recstack.errors import ConfigError
from recstack.pipelines.base import Pipeline, Summary, TaskInput, check_in_range, utc
from recstack.pipelines.servers import check_servers
from recstack.system import resolve

if TYPE_CHECKING:
    from recstack.settings import Settings
    from recstack.system import SystemSpec

log = logging.getLogger(__name__)


def pipelines_of(specs: Iterable[SystemSpec]) -> dict[str, Pipeline]:
    """Name → pipeline over every system that declares some; names must be unique."""
    found: dict[str, Pipeline] = {}
    for spec in specs:
        if spec.pipelines is None:
            continue
        declared = resolve(spec.pipelines, field=f"{spec.name}: pipelines")
        for pipeline in declared:
            if not isinstance(pipeline, Pipeline):
                raise ConfigError(f"{spec.pipelines!r} holds a {type(pipeline).__name__}",
                                  field=f"{spec.name}: pipelines",
                                  fix="list recstack.pipelines.Pipeline objects")
            if pipeline.name in found:
                raise ConfigError(f"two pipelines are named {pipeline.name!r}",
                                  field=f"{spec.name}: pipelines", fix="rename one")
            found[pipeline.name] = replace(pipeline, system=spec.name)
    return found


def find_pipeline(specs: Iterable[SystemSpec], name: str) -> Pipeline:
    """The pipeline called ``name``; an unknown name lists the known ones."""
    known = pipelines_of(specs)
    if name not in known:
        raise ConfigError(f"no pipeline {name!r}", field="pipeline",
                          fix=f"use one of: {', '.join(sorted(known)) or 'none'} "
                              "(see `recstack pipeline list`)")
    return known[name]


def prepare(pipeline: Pipeline, settings: Settings, params: Mapping[str, Any],
            start: Any, end: Any) -> TaskInput:
    """Check the parameters, the interval and the configured servers; the first task's input.

    Raises:
        ConfigError: an unknown or mistyped parameter, or a configured server that is down.
        DataError: an interval outside the data.
    """
    resolved = pipeline.resolve_params(params)
    start_ts, end_ts = utc(start), utc(end)
    if end_ts <= start_ts:  # a manual trigger under a trigger timetable: the interval before
        start_ts = end_ts - pipeline.interval
    check_in_range(pipeline, settings, resolved, start_ts, end_ts)
    check_servers(settings)
    return TaskInput(pipeline=pipeline.name, params=resolved, start=start_ts.isoformat(),
                     end=end_ts.isoformat())


def run_task(settings: Settings, pipeline: Pipeline, task: str, *,
             params: Mapping[str, Any], start: Any, end: Any,
             upstream: Mapping[str, Summary] | None = None) -> dict[str, Summary]:
    """Run one task; returns the earlier summaries plus this one's (what the next task needs).

    This is what a DAG's task calls with Airflow's data interval.
    """
    run = replace(prepare(pipeline, settings, params, start, end),
                  upstream=dict(upstream or {}))
    return {**run.upstream, task: _call(settings, pipeline, task, run)}


def run_pipeline(settings: Settings, pipeline: Pipeline, *, params: Mapping[str, Any],
                 start: Any, end: Any,
                 on_task: Callable[[str, str, Summary | None], None] | None = None
                 ) -> dict[str, Summary]:
    """Every task in order, in this process; ``on_task(task, "start"|"done", summary)``."""
    run = prepare(pipeline, settings, params, start, end)
    summaries: dict[str, Summary] = {}
    for task in pipeline.tasks:
        if on_task:
            on_task(task.name, "start", None)
        summaries[task.name] = _call(settings, pipeline, task.name,
                                     replace(run, upstream=dict(summaries)))
        if on_task:
            on_task(task.name, "done", summaries[task.name])
    return summaries


def _call(settings: Settings, pipeline: Pipeline, task: str, run: TaskInput) -> Summary:
    started = time.perf_counter()
    summary = pipeline.task(task).run(settings, run)
    summary = {**summary, "seconds": round(time.perf_counter() - started, 3)}
    log.info("pipeline %s task %s [%s, %s): %s", pipeline.name, task, run.start, run.end,
             summary)
    return summary
