"""Pipelines: each system's lifecycle (features → train → evaluate → promote → monitor, nightly
matching, NLU re-training) as plain task functions that a scheduler runs per data interval.

A system declares its pipelines in its own package and points its spec's ``pipelines`` at them;
``recstack pipeline run NAME --date D`` and the Airflow DAGs in ``dags/`` call the same
:func:`run_task` / :func:`run_pipeline` (docs/deployment.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recstack._lazy import lazy_exports

# ruff: noqa: F401 - these imports are the re-exports, for type checkers.
if TYPE_CHECKING:
    from recstack.pipelines.base import Param, Pipeline, Summary, Task, TaskInput, day_interval
    from recstack.pipelines.runner import (
        find_pipeline,
        pipelines_of,
        prepare,
        run_pipeline,
        run_task,
    )
    from recstack.pipelines.servers import check_servers

# Imported on first use: `recstack --help` builds the `pipeline` group without pandas.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "base": ["Param", "Pipeline", "Summary", "Task", "TaskInput", "day_interval"],
    "runner": ["find_pipeline", "pipelines_of", "prepare", "run_pipeline", "run_task"],
    "servers": ["check_servers"],
})
