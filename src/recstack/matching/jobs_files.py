"""Files and locks of a link job: the plan's chunks, JSONL lines, atomic writes, the job lock.

Helpers of :mod:`recstack.matching.jobs`; everything here is about a job's folder, nothing about
matching.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recstack.errors import ConfigError
from recstack.jobs import ResumableJob
from recstack.matching.executors import EndpointUnavailable, Executor, error_line

log = logging.getLogger("recstack.matching.jobs")


def execute_chunk(executor: Executor, requests: list, key: str, job: ResumableJob
                  ) -> list[dict[str, Any]]:
    """The executor's lines; an executor bug fails the chunk's requests, not the job."""
    try:
        if getattr(executor, "remembers", False):  # the batch executor keeps remote ids
            return executor.execute(requests, key=key, memo=job.parameters)  # type: ignore[call-arg]
        return executor.execute(requests)
    except EndpointUnavailable:
        raise
    except Exception as exc:
        log.warning("chunk %s failed: %s", key, exc)
        return [error_line(r, "executor_error", f"{type(exc).__name__}: {exc}")
                for r in requests]


def chunks(plan: Path, tag: str, size: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    batch: list[dict[str, Any]] = []
    index = 0
    for text in lines(plan):
        batch.append(json.loads(text))
        if len(batch) == size:
            yield f"{tag}-{index:06d}", batch
            batch, index = [], index + 1
    if batch:
        yield f"{tag}-{index:06d}", batch


def lines(path: Path) -> Iterator[str]:
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for text in handle:
            if text.strip():
                yield text


def atomic_write(path: Path, lines: Any) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        for text in lines:
            handle.write(text.rstrip("\n") + "\n")
    os.replace(temporary, path)


def atomic_copy(source: Path, target: Path) -> None:
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)


@contextmanager
def quiet_chunk_log() -> Iterator[None]:
    """The spine job logs one INFO line per ``run`` call, and a link calls it per chunk: the
    progress bar says the same, so those lines are held back while chunks run."""
    spine = logging.getLogger("recstack.jobs")
    level = spine.level
    spine.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        spine.setLevel(level)


@contextmanager
def job_lock(folder: Path, job_id: str) -> Iterator[None]:
    """One process runs a job at a time, for the whole run (the spine's lock covers one
    chunk); the kernel releases it when the process dies."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "link.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"job {job_id!r} is running in another process", field="--job",
                              fix="wait for it, or cancel it with `recstack match jobs cancel "
                                  f"{job_id}`") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def running(folder: Path) -> bool:
    """Whether a process runs the job (holds its link lock)."""
    import fcntl

    lock = folder / "link.lock"
    if not lock.exists():
        return False
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
