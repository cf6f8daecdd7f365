"""``recstack match link`` as a resumable batch job: validate → send in chunks → finalize.

A job goes through the Batch API's statuses. ``validating``: both tables are checked (a bad
file creates no job), copied into the job's folder, blocked, and written as one plan line per
request (``requests.jsonl``); requests whose content hash equals the one that completed in an
earlier job of the same link are skipped (incremental runs). ``in_progress``: the plan is sent
in chunks through the spine's :class:`~recstack.jobs.ResumableJob`, whose atomic per-chunk
outputs and done-set make a resume after ``kill -9`` lose and duplicate nothing (a chunk cut
short is redone whole). ``finalizing``: the chunk outputs are merged into ``output.jsonl``
(completed requests) and ``errors.jsonl`` (failed ones), each request id exactly once, and the
completed hashes are remembered. Then ``completed``; or ``expired`` (past the completion
window: unsent requests go to the error file), ``cancelling``/``cancelled``, ``failed`` (the job
cannot go on: its copied inputs or its model are gone).

An endpoint that cannot be reached pauses the job (still ``in_progress``, the requests
pending); running ``link --job ID`` again resumes it. ``retry`` sends the failed requests again
as a new round of chunks, and only those.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from recstack.errors import ConfigError, NotFoundError
from recstack.jobs import ResumableJob
from recstack.matching import jobs_files as files
from recstack.matching.blocking import BlockingConfig
from recstack.matching.executors import EndpointUnavailable, Executor
from recstack.matching.jobs_store import TERMINAL, JobRecord, JobStore, open_job_store
from recstack.matching.link import LinkTable, plan_requests, read_link_table, to_request
from recstack.settings import Settings

__all__ = ["LinkConfig", "MatchJobs", "new_job_id"]

log = logging.getLogger(__name__)
EXECUTORS = ("local", "chat", "batch")
Advance = Callable[[int], None]


@dataclass
class LinkConfig:
    """What a link job does; pinned in the job when it starts."""

    left: Path
    right: Path
    executor: str = "local"  # local | chat | batch
    model: str | None = None  # the local matcher; default: the matching system's default model
    chunk_size: int = 500  # requests per chunk (the unit that is redone after a kill)
    completion_window_h: float = 24.0  # past this, unsent requests expire
    link_key: str | None = None  # the link incremental runs compare with; default: both paths
    name_k: int = 10
    geo_k: int = 10
    concurrency: int = 4  # chat: requests in flight at once
    max_attempts: int = 3  # chat: tries of a question whose answer does not fit the schema
    poll_s: float = 5.0  # batch: seconds between polls of a running batch
    select_min: float = 0.2  # local: the best candidate is selected from this score
    verify_min: float = 0.5  # local: the selected pair is a match from this score


def new_job_id() -> str:
    return f"link-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


class MatchJobs:
    """The match jobs of one installation: the table plus a folder per job.

    Args:
        settings: ``RECSTACK_MATCHING__JOBS_DIR`` (default ``HOME/match-jobs``) and
            ``RECSTACK_MATCHING__JOB_STORE_DSN`` (PostgreSQL; default SQLite in the folder).
        executor_factory: builds the executor of a job from its pinned parameters (default
            :func:`recstack.matching.executors.make_executor`).
    """

    def __init__(self, settings: Settings, *,
                 executor_factory: Callable[[dict[str, Any], Settings], Executor] | None = None,
                 store: JobStore | None = None):
        from recstack.matching.system import SPEC

        section = SPEC.settings_of(settings)
        self.settings = settings
        self.root = Path(section.jobs_dir or settings.home / "match-jobs")
        self.store = store or open_job_store(self.root, section.job_store_dsn)
        self.executor_factory = executor_factory
        self._built: dict[str, Executor] = {}

    # -- public --------------------------------------------------------------------------

    def link(self, config: LinkConfig, job_id: str | None = None,
             advance: Advance | None = None, on_start: Callable[[JobRecord], None] | None = None
             ) -> JobRecord:
        """Start a job (or resume ``job_id`` when it exists) and run it as far as it goes."""
        if job_id is not None:
            try:
                record = self.store.get(job_id)
            except NotFoundError:  # a new job with this id
                record = None
            if record is not None:
                if on_start:
                    on_start(record)
                return self.run(job_id, advance)
        record = self.start(config, job_id or new_job_id())
        if on_start:
            on_start(record)
        return self.run(record.job_id, advance)

    def start(self, config: LinkConfig, job_id: str) -> JobRecord:
        """Check both tables, create the job and write its plan (status ``in_progress``)."""
        if config.executor not in EXECUTORS:
            raise ConfigError(f"unknown executor {config.executor!r}", field="--executor",
                              fix=f"use one of: {', '.join(EXECUTORS)}")
        if config.chunk_size < 1:
            raise ConfigError("the chunk size must be at least 1", field="--chunk-size",
                              fix="give a positive number of requests per chunk")
        left = read_link_table(config.left, "--left")
        right = read_link_table(config.right, "--right")
        params: dict[str, Any] = {**{k: str(v) if isinstance(v, Path) else v for k, v in
                     asdict(config).items()}, "rounds": [{"plan": "requests.jsonl", "tag": "r0",
                                                          "base_completed": 0, "base_failed": 0}]}
        params["model"] = self._pin_model(config)
        job = ResumableJob(self.root, job_id)  # checks the id
        # Built now so that a job that cannot run (LLM switch off, model gone) is never created.
        self._built[job_id] = self._make_executor(params)
        now = time.time()
        link_key = config.link_key or f"{config.left.resolve()}|{config.right.resolve()}"
        record = self.store.create(JobRecord(
            job_id=job_id, status="validating", executor=config.executor, model=params["model"],
            link_key=link_key, folder=str(job.folder), created_at=now, updated_at=now,
            expires_at=now + config.completion_window_h * 3600, params=params))
        inputs = job.folder / "inputs"
        inputs.mkdir(parents=True, exist_ok=True)
        for path, name in ((config.left, "left.csv"), (config.right, "right.csv")):
            files.atomic_copy(path, inputs / name)
        return self._plan(record, left, right)

    def run(self, job_id: str, advance: Advance | None = None) -> JobRecord:
        """Go on with a job from wherever it stopped; returns it as it is afterwards."""
        record = self.store.get(job_id)
        if record.status in TERMINAL:
            return record
        with files.job_lock(Path(record.folder), job_id):
            return self._run_locked(self.store.get(job_id), advance)

    def _run_locked(self, record: JobRecord, advance: Advance | None) -> JobRecord:
        if record.status == "validating":  # killed while planning: plan again (idempotent)
            left, right = self._inputs(record)
            record = self._plan(record, left, right)
        if record.status == "in_progress":
            with files.quiet_chunk_log():
                record = self._send(record, advance)
        if record.status in ("finalizing", "cancelling"):
            record = self._finalize(record)
        return record

    def retry(self, job_id: str, advance: Advance | None = None) -> JobRecord:
        """Send the failed requests of a finished job again (only those), as a new round."""
        record = self.store.get(job_id)
        if record.status not in ("completed", "expired"):
            raise ConfigError(f"job {job_id!r} is {record.status}", field="job_id",
                              fix="retry a completed or expired job; resume a running one with "
                                  "`recstack match link --job ID`")
        failed = {json.loads(line)["custom_id"] for line in files.lines(record.error_path)}
        if not failed:
            return record
        rounds = record.params["rounds"]
        tag = f"r{len(rounds)}"
        plan = Path(record.folder) / f"retry-{tag}.jsonl"
        everything = files.lines(Path(record.folder) / "requests.jsonl")
        files.atomic_write(plan, (line for line in everything
                                  if json.loads(line)["custom_id"] in failed))
        rounds.append({"plan": plan.name, "tag": tag, "base_completed": record.completed,
                       "base_failed": record.failed - len(failed)})
        self.store.update(job_id, status="in_progress", params=record.params,
                          failed=record.failed - len(failed),
                          expires_at=time.time() + record.params["completion_window_h"] * 3600,
                          message=f"retrying {len(failed)} failed requests")
        return self.run(job_id, advance)

    def cancel(self, job_id: str) -> JobRecord:
        """Stop a job: at once when no process runs it, else after that process's chunk."""
        record = self.store.get(job_id)
        if record.status in TERMINAL:
            raise ConfigError(f"job {job_id!r} is {record.status} already", field="job_id",
                              fix="cancel a job that is validating or in progress")
        self.store.update(job_id, status="cancelling")
        if files.running(Path(record.folder)):
            return self.store.get(job_id)
        return self._finalize(self.store.get(job_id))

    def status(self, job_id: str) -> JobRecord:
        return self.store.get(job_id)

    def recent(self, limit: int = 50) -> list[JobRecord]:
        """The newest jobs first."""
        return self.store.recent(limit)

    # -- phases --------------------------------------------------------------------------

    def _plan(self, record: JobRecord, left: LinkTable, right: LinkTable) -> JobRecord:
        params = record.params
        blocking = BlockingConfig(name_k=params["name_k"], geo_k=params["geo_k"])
        known = self.store.link_hashes(record.link_key)
        context: dict[str, Any] = {"executor": record.executor, "model": record.model}
        cuts = (params.get("select_min", 0.2), params.get("verify_min", 0.5))
        if record.executor == "local" and cuts != (0.2, 0.5):  # the defaults keep old hashes
            context["cuts"] = list(cuts)
        kept, skipped = [], 0
        for line in plan_requests(left, right, blocking, context=context):
            if known.get(line["custom_id"]) == line["hash"]:
                skipped += 1
            else:
                kept.append(json.dumps(line))
        files.atomic_write(Path(record.folder) / "requests.jsonl", kept)
        # A `jobs cancel` from another shell while planning wins over moving on.
        status = "cancelling" if self.store.get(record.job_id).status == "cancelling" \
            else "in_progress"
        return self.store.update(record.job_id, status=status, total=len(kept),
                                 skipped=skipped, completed=0, failed=0,
                                 message=f"{len(kept)} requests, {skipped} unchanged skipped")

    def _send(self, record: JobRecord, advance: Advance | None) -> JobRecord:
        job = ResumableJob(self.root, record.job_id, suffix=".jsonl")
        round_ = record.params["rounds"][-1]
        plan_chunks = files.chunks(Path(record.folder) / round_["plan"], round_["tag"],
                         record.params["chunk_size"])
        done = set(job.status().done)
        record = self._count(record, job)
        if advance:
            advance(record.completed + record.failed)
        left, right = self._inputs(record)
        executor: Executor | None = None
        for key, plans in plan_chunks:
            if key in done:
                continue
            current = self.store.get(record.job_id)
            if current.status == "cancelling" or current.status in TERMINAL:
                return current
            if current.expires_at is not None and time.time() > current.expires_at:
                return self._finalize(self.store.update(record.job_id, status="finalizing",
                                                        message="expired"), expired=True)
            executor = executor or self._executor(record)
            requests = [to_request(plan, left, right) for plan in plans]

            def work(key: str, out: Path, requests: list = requests,
                     executor: Executor | None = executor) -> dict[str, int]:
                assert executor is not None
                lines = files.execute_chunk(executor, requests, key, job)
                files.atomic_write(out, (json.dumps(line, ensure_ascii=False) for line in lines))
                return {"completed": sum(1 for x in lines if x["error"] is None),
                        "failed": sum(1 for x in lines if x["error"] is not None)}

            try:
                result = job.run([key], work, stop_on_error=True).results[key]
            except EndpointUnavailable as exc:
                pending = self.store.get(record.job_id).pending
                return self.store.update(
                    record.job_id, message=f"paused: the endpoint cannot be reached ({exc}); "
                    f"{pending} requests pending; resume with `recstack match link --job "
                    f"{record.job_id}`")
            record = self.store.update(record.job_id,
                                       completed=self.store.get(record.job_id).completed +
                                       result["completed"],
                                       failed=self.store.get(record.job_id).failed +
                                       result["failed"], message=None)
            if advance:
                advance(len(plans))
        return self.store.update(record.job_id, status="finalizing")

    def _finalize(self, record: JobRecord, *, expired: bool = False) -> JobRecord:
        """Merge every done chunk's lines: output.jsonl and errors.jsonl, each id once."""
        folder = Path(record.folder)
        job = ResumableJob(self.root, record.job_id, suffix=".jsonl")
        done = set(job.status().done)
        lines: dict[str, dict[str, Any]] = {}
        unsent: list[dict[str, Any]] = []
        for round_ in record.params["rounds"]:
            for key, plans in files.chunks(folder / round_["plan"], round_["tag"],
                                      record.params["chunk_size"]):
                if key not in done:
                    unsent.extend(plans)
                    continue
                for text in files.lines(job.output_path(key)):
                    line = json.loads(text)
                    previous = lines.get(line["custom_id"])
                    if previous is None or previous["error"] is not None:
                        lines[line["custom_id"]] = line  # a later round replaces a failure
        if expired:
            for plan in unsent:
                if plan["custom_id"] not in lines or lines[plan["custom_id"]]["error"]:
                    lines[plan["custom_id"]] = {
                        "custom_id": plan["custom_id"], "response": None,
                        "error": {"code": "expired", "message": "the job's completion window "
                                  "passed before this request was sent"}}
        order = [json.loads(text) for text in files.lines(folder / "requests.jsonl")]
        ordered = [lines[p["custom_id"]] for p in order if p["custom_id"] in lines]
        files.atomic_write(record.output_path, (json.dumps(x, ensure_ascii=False)
                                                for x in ordered if x["error"] is None))
        files.atomic_write(record.error_path, (json.dumps(x, ensure_ascii=False)
                                               for x in ordered if x["error"] is not None))
        self.store.save_link_hashes(record.link_key, [
            (p["custom_id"], p["hash"]) for p in order
            if p["custom_id"] in lines and lines[p["custom_id"]]["error"] is None], record.job_id)
        completed = sum(1 for x in ordered if x["error"] is None)
        status = ("cancelled" if record.status == "cancelling" else
                  "expired" if expired else "completed")
        return self.store.update(record.job_id, status=status, completed=completed,
                                 failed=len(ordered) - completed,
                                 message=record.message if status != "completed" else None)

    # -- helpers -------------------------------------------------------------------------

    def _count(self, record: JobRecord, job: ResumableJob) -> JobRecord:
        """Counts from the done chunks' files (a kill may have come between a chunk's done
        mark and the table's update)."""
        round_ = record.params["rounds"][-1]
        done = set(job.status().done)
        completed, failed = round_["base_completed"], round_["base_failed"]
        for key in done:
            if not key.startswith(round_["tag"] + "-"):
                continue
            for text in files.lines(job.output_path(key)):
                if json.loads(text)["error"] is None:
                    completed += 1
                else:
                    failed += 1
        return self.store.update(record.job_id, completed=completed, failed=failed)

    def _inputs(self, record: JobRecord) -> tuple[LinkTable, LinkTable]:
        inputs = Path(record.folder) / "inputs"
        if not (inputs / "left.csv").is_file() or not (inputs / "right.csv").is_file():
            self.store.update(record.job_id, status="failed",
                              message=f"the job's copied inputs are gone from {inputs}")
            raise ConfigError(f"job {record.job_id!r} lost its inputs ({inputs})",
                              field="job_id", fix="start a new job with --left and --right")
        return (read_link_table(inputs / "left.csv", "--left"),
                read_link_table(inputs / "right.csv", "--right"))

    def _executor(self, record: JobRecord) -> Executor:
        return self._built.pop(record.job_id, None) or self._make_executor(record.params)

    def _make_executor(self, params: dict[str, Any]) -> Executor:
        if self.executor_factory is not None:
            return self.executor_factory(params, self.settings)
        from recstack.matching.executors import make_executor

        return make_executor(params, self.settings)

    def _pin_model(self, config: LinkConfig) -> str | None:
        """The local matcher's exact version (an alias may move while the job runs), or the
        LLM's model name (part of every request's hash: another model re-sends all)."""
        if config.executor != "local":
            return config.model or self.settings.llm.model
        if self.executor_factory is not None:
            return config.model
        from recstack.matching.system import SPEC
        from recstack.registry.models import ModelRegistry

        ref = config.model or SPEC.settings_of(self.settings).default_model
        if not ref:
            raise ConfigError("no model named and no default set", field="--model",
                              fix="pass --model NAME@ALIAS or set "
                                  "RECSTACK_MATCHING__DEFAULT_MODEL")
        info = ModelRegistry(self.settings).resolve(str(ref))
        return f"{info.name}/{info.version}"
