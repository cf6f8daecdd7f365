"""Airflow 3 DAGs for recstack's pipelines: one DAG ``recstack_<name>`` per pipeline.

This file only wires: each task calls :func:`recstack.pipelines.run_task` with the run's params
and Airflow's data interval, and passes the summaries on through XCom. The work, the checks and
the errors live in recstack (``recstack pipeline run NAME --date D`` runs the same functions
without Airflow). Settings come from the environment (``RECSTACK_HOME``, ``RECSTACK_…``) of the
Airflow workers. Backfills work because every task reads only its data interval:
``airflow backfill create --dag-id recstack_treatment --from-date … --to-date …``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from recstack.pipelines import Pipeline, pipelines_of, run_task
from recstack.settings import get_settings
from recstack.systems import installed_systems

# Data-interval timetables: a run for day D covers [D, D + 1 day) and starts when it has ended.
SCHEDULES = {"daily": "0 0 * * *", "weekly": "0 0 * * 1"}
START = pendulum.datetime(2025, 1, 1, tz="UTC")


def wire(pipeline: Pipeline) -> None:
    cron = SCHEDULES.get(pipeline.schedule)

    @dag(dag_id=f"recstack_{pipeline.name}", description=pipeline.summary,
         schedule=CronDataIntervalTimetable(cron, timezone="UTC") if cron else None,
         start_date=START, catchup=False, max_active_runs=1,
         tags=["recstack", pipeline.system],
         params={p.name: Param(p.default, type=p.json_type, description=p.help)
                 for p in pipeline.params})
    def pipeline_dag() -> None:
        upstream = None
        for step in pipeline.tasks:
            @task(task_id=step.name, doc=step.help)
            def run(summaries: dict | None = None, name: str = step.name) -> dict:
                context = get_current_context()
                return run_task(get_settings(), pipeline, name, params=dict(context["params"]),
                                start=context["data_interval_start"],
                                end=context["data_interval_end"], upstream=summaries)

            upstream = run(upstream)

    pipeline_dag()


for _pipeline in pipelines_of(installed_systems()).values():
    wire(_pipeline)
