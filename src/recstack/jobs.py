"""Resumable jobs: a list of chunks whose done-set survives a kill, with atomic output per chunk.

A job is a folder ``ROOT/JOB_ID`` holding ``job.db`` (SQLite in WAL mode: which chunks are done,
their small JSON results, the job's pinned parameters) and ``outputs/`` (one file per chunk that
writes one). Running a job again with the same id skips the chunks that are done and redoes the
others, so a materialisation, an embedding export or a batch scoring killed half-way continues
where it stopped instead of starting over.

Why it never duplicates or tears output: a chunk writes to a temporary file in ``outputs/``,
which is renamed over the final name (``os.replace``, atomic on one file system) before the
chunk is marked done in SQLite. A kill before the rename leaves only a temporary file, removed
on the next run; a kill between the rename and the mark leaves an output of a chunk that is not
done, removed before the chunk is redone. The guarantees hold against a killed process; they do
not add fsyncs against power loss. One process runs a job at a time (an OS lock on the folder,
released by the kernel when the holder dies).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rich.progress import Progress

from recstack.errors import ConfigError
from recstack.sqlite import open_wal

__all__ = ["JobStatus", "JobSummary", "ResumableJob"]

logger = logging.getLogger(__name__)

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@=-]{0,127}")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    key TEXT PRIMARY KEY, position INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
    output TEXT, result TEXT, error TEXT, seconds REAL, updated REAL);
CREATE TABLE IF NOT EXISTS parameters (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

Work = Callable[[str, Path], Any]
"""``work(key, out)``: do one chunk; write its output (if any) to ``out``; return a small
JSON-able result (or None) that is stored with the done mark."""


@dataclass
class JobSummary:
    """What one ``run`` did, in the order of the chunks it was given."""

    job_id: str
    done: list[str] = field(default_factory=list)  # done by this run
    skipped: list[str] = field(default_factory=list)  # done by an earlier run
    failed: dict[str, str] = field(default_factory=dict)  # key -> error text
    results: dict[str, Any] = field(default_factory=dict)  # every done chunk's result

    @property
    def complete(self) -> bool:
        return not self.failed


@dataclass
class JobStatus:
    """The persisted state of a job: every chunk ever given to it, by state."""

    job_id: str
    done: list[str]
    pending: list[str]
    failed: dict[str, str]

    @property
    def total(self) -> int:
        return len(self.done) + len(self.pending) + len(self.failed)


class ResumableJob:
    """A named job under ``root`` whose chunks are done at most once each, across restarts.

    Args:
        root: folder that holds jobs (e.g. ``<home>/jobs``); created when needed.
        job_id: the job's name; the same id resumes the same job. Letters, digits, ``_.@=-``.
        suffix: file suffix of chunk outputs (``".parquet"``); the temporary file has it too,
            so writers that pick a format from the suffix (or append one, like ``np.save``)
            write where expected.
    """

    def __init__(self, root: str | Path, job_id: str, *, suffix: str = ""):
        if not _JOB_ID.fullmatch(job_id):
            raise ConfigError(f"job id {job_id!r} is not a plain name", field="job_id",
                              fix="use letters, digits and _ . @ = - (at most 128 characters)")
        self.job_id = job_id
        self.folder = Path(root) / job_id
        self.outputs = self.folder / "outputs"
        self.suffix = suffix

    # -- public --------------------------------------------------------------------------

    def output_path(self, key: str) -> Path:
        """Where the committed output of chunk ``key`` lives (whether or not it exists)."""
        name = quote(_check_key(key), safe="")
        if name.startswith("."):  # "." and ".." are no file names; dot files are temporaries
            name = "%2E" + name[1:]
        return self.outputs / f"{name}{self.suffix}"

    def parameters(self, initial: Mapping[str, Any]) -> dict[str, Any]:
        """The job's parameters: ``initial`` the first time, the saved values ever after.

        A resumed job must finish with the values it started with (e.g. the end time a
        materialisation resolved from "now"), not with values recomputed at restart.
        """
        with self._db() as conn, conn:
            for name, value in initial.items():
                conn.execute("INSERT OR IGNORE INTO parameters VALUES (?, ?)",
                             (name, json.dumps(value)))
            rows = conn.execute("SELECT name, value FROM parameters").fetchall()
        return {name: json.loads(value) for name, value in rows}

    def run(self, chunks: Sequence[str], work: Work, *, progress: bool | Progress = False,
            stop_on_error: bool = False) -> JobSummary:
        """Do every chunk of ``chunks`` that is not done yet, in order.

        Args:
            chunks: chunk keys (unique). Keys given to earlier runs but not here are left
                alone.
            work: ``work(key, out)`` (see ``Work``). An exception marks the chunk failed
                (a later run retries it) and removes its partial output.
            progress: show a rich progress bar; pass a ``Progress`` to add the job's bar to
                one the caller shows (and let ``work`` add its own tasks to it).
            stop_on_error: re-raise the first exception (after marking the chunk failed)
                instead of going on with the other chunks.

        Raises:
            ConfigError: duplicate or empty keys, or the job is running in another process.
        """
        keys = [_check_key(k) for k in chunks]
        if len(set(keys)) != len(keys):
            raise ConfigError("chunk keys repeat", field="chunks", fix="give each chunk once")
        summary = JobSummary(self.job_id)
        with self._locked(), self._db() as conn:
            self._remove_temporaries()
            with conn:
                conn.executemany("INSERT OR IGNORE INTO chunks (key, position) VALUES (?, ?)",
                                 [(k, i) for i, k in enumerate(keys)])
            done = dict(conn.execute("SELECT key, result FROM chunks WHERE state = 'done'"))
            with _progress_bar(progress) as bar:
                task = (None if bar is None
                        else bar.add_task(f"job {self.job_id}", total=len(keys)))
                for key in keys:
                    if key in done:
                        summary.skipped.append(key)
                        summary.results[key] = _loads(done[key])
                    else:
                        self._run_chunk(conn, key, work, summary, stop_on_error)
                    if bar is not None and task is not None:
                        bar.advance(task)
        logger.info("job %s: %d done, %d skipped (done before), %d failed", self.job_id,
                    len(summary.done), len(summary.skipped), len(summary.failed))
        return summary

    def status(self) -> JobStatus:
        """Chunks by state, in the order they were first given; empty for a new job."""
        if not (self.folder / "job.db").is_file():
            return JobStatus(self.job_id, [], [], {})
        with self._db() as conn:
            rows = conn.execute("SELECT key, state, error FROM chunks ORDER BY position, key"
                                ).fetchall()
        return JobStatus(self.job_id, done=[k for k, s, _ in rows if s == "done"],
                         pending=[k for k, s, _ in rows if s == "pending"],
                         failed={k: e or "" for k, s, e in rows if s == "failed"})

    def clear(self) -> None:
        """Forget the job: its done-set, parameters and outputs (the next run starts over)."""
        with self._locked():
            shutil.rmtree(self.outputs, ignore_errors=True)
            for name in ("job.db", "job.db-wal", "job.db-shm"):
                (self.folder / name).unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- private -------------------------------------------------------------------------

    def _run_chunk(self, conn: sqlite3.Connection, key: str, work: Work, summary: JobSummary,
                   stop_on_error: bool) -> None:
        final = self.output_path(key)
        # An output here belongs to an attempt that died before marking the chunk done.
        final.unlink(missing_ok=True)
        temporary = self.outputs / f".{final.name}.{uuid.uuid4().hex}.tmp{self.suffix}"
        started = time.perf_counter()
        try:
            result = work(key, temporary)
            text = None if result is None else json.dumps(result)
        except BaseException as exc:
            temporary.unlink(missing_ok=True)
            error = f"{type(exc).__name__}: {exc}"
            with conn:
                conn.execute("UPDATE chunks SET state = 'failed', error = ?, updated = ? "
                             "WHERE key = ?", (error, time.time(), key))
            summary.failed[key] = error
            logger.warning("job %s: chunk %r failed: %s", self.job_id, key, error)
            if stop_on_error or not isinstance(exc, Exception):  # always stop on Ctrl-C
                raise
            return
        output = None
        if temporary.exists():
            os.replace(temporary, final)  # atomic: readers see no file or the whole file
            output = final.name
        with conn:
            conn.execute("UPDATE chunks SET state = 'done', output = ?, result = ?, error = NULL, "
                         "seconds = ?, updated = ? WHERE key = ?",
                         (output, text, time.perf_counter() - started, time.time(), key))
        summary.done.append(key)
        summary.results[key] = result

    def _remove_temporaries(self) -> None:
        for path in self.outputs.glob(".*.tmp*"):
            path.unlink(missing_ok=True)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.outputs.mkdir(parents=True, exist_ok=True)
        conn = open_wal(self.folder / "job.db")
        try:
            conn.executescript(_SCHEMA)
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(f"job {self.job_id!r} is running in another process",
                                  field="job_id",
                                  fix="wait for it to finish, or use another job id") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > 200:
        raise ConfigError(f"chunk key {key!r} must be a non-empty string of at most 200 "
                          "characters", field="chunks", fix="name chunks with short strings")
    return key


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _progress_bar(progress: bool | Progress) -> Any:
    """The caller's Progress, a new transient one, or nothing."""
    if isinstance(progress, Progress):
        return nullcontext(progress)
    if progress:
        return Progress(transient=True)
    return nullcontext(None)
