"""The persistent table of match jobs (SQLite by default, PostgreSQL behind a DSN).

One row per job: its status (the OpenAI Batch API's), request counts, where its files are and
the parameters it was started with; plus, per link (a pair of tables), the content hash of every
request that completed, so an incremental run sends only new or changed records. The per-chunk
done-set of a running job lives in the job's own folder (:class:`recstack.jobs.ResumableJob`);
this table is what ``recstack match jobs list|status`` reads, from any host when it is in
PostgreSQL.

Both backends run the same SQL (``?`` placeholders, rewritten to ``%s`` for psycopg; ``ON
CONFLICT`` upserts, which SQLite has had since 3.24).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from recstack.errors import ConfigError, NotFoundError
from recstack.sqlite import open_wal

__all__ = ["STATUSES", "TERMINAL", "JobRecord", "JobStore", "open_job_store"]

# The Batch API's statuses, in the order a job goes through them.
STATUSES = ("validating", "in_progress", "finalizing", "completed", "failed", "expired",
            "cancelling", "cancelled")
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS match_jobs (
        job_id TEXT PRIMARY KEY, status TEXT NOT NULL, executor TEXT NOT NULL,
        model TEXT, link_key TEXT NOT NULL, folder TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION, total BIGINT NOT NULL DEFAULT 0,
        completed BIGINT NOT NULL DEFAULT 0, failed BIGINT NOT NULL DEFAULT 0,
        skipped BIGINT NOT NULL DEFAULT 0, message TEXT, params TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS match_link_state (
        link_key TEXT NOT NULL, custom_id TEXT NOT NULL, hash TEXT NOT NULL,
        job_id TEXT NOT NULL, PRIMARY KEY (link_key, custom_id))""",
]
_FIELDS = ("job_id", "status", "executor", "model", "link_key", "folder", "created_at",
           "updated_at", "expires_at", "total", "completed", "failed", "skipped", "message",
           "params")
_UPDATABLE = frozenset(_FIELDS) - {"job_id", "created_at", "link_key", "folder"}


@dataclass
class JobRecord:
    """One match job as the table holds it."""

    job_id: str
    status: str
    executor: str
    model: str | None
    link_key: str
    folder: str
    created_at: float
    updated_at: float
    expires_at: float | None = None
    total: int = 0  # requests this job sends (new or changed records only)
    completed: int = 0
    failed: int = 0
    skipped: int = 0  # records unchanged since an earlier job of the same link
    message: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def pending(self) -> int:
        return max(self.total - self.completed - self.failed, 0)

    @property
    def output_path(self) -> Path:
        return Path(self.folder) / "output.jsonl"

    @property
    def error_path(self) -> Path:
        return Path(self.folder) / "errors.jsonl"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pending": self.pending, "output_path": str(self.output_path),
                "error_path": str(self.error_path)}


class JobStore:
    """The job table in SQLite (``path``) or PostgreSQL (``dsn``)."""

    def __init__(self, *, path: Path | None = None, dsn: SecretStr | str | None = None):
        self._lock = threading.Lock()
        self._postgres = dsn is not None
        if dsn is not None:
            self._conn: Any = _connect_postgres(dsn)
        elif path is not None:
            self._conn = open_wal(path, check_same_thread=False)
        else:
            raise ConfigError("a job store needs a file or a DSN", field="job_store",
                              fix="give path= or dsn=")
        for statement in _SCHEMA:
            self._run(statement)

    # -- jobs ----------------------------------------------------------------------------

    def create(self, record: JobRecord) -> JobRecord:
        """Insert a new job; an existing id is a ConfigError."""
        row = _row(record)
        inserted = self._run(f"INSERT INTO match_jobs ({', '.join(_FIELDS)}) VALUES "
                             f"({', '.join('?' * len(_FIELDS))}) ON CONFLICT (job_id) DO NOTHING "
                             "RETURNING job_id", row)
        if not inserted:
            raise ConfigError(f"job {record.job_id!r} exists already", field="--job",
                              fix="resume it with the same --job, or choose another id")
        return record

    def get(self, job_id: str) -> JobRecord:
        """The job, or NotFoundError naming the way to list jobs."""
        rows = self._run(f"SELECT {', '.join(_FIELDS)} FROM match_jobs WHERE job_id = ?",
                         (job_id,))
        if not rows:
            raise NotFoundError(f"no match job {job_id!r}", field="job_id",
                                fix="see `recstack match jobs list` for the job ids")
        return _record(rows[0])

    def recent(self, limit: int = 50) -> list[JobRecord]:
        """Newest first."""
        rows = self._run(f"SELECT {', '.join(_FIELDS)} FROM match_jobs "
                         "ORDER BY created_at DESC, job_id LIMIT ?", (limit,))
        return [_record(r) for r in rows]

    def update(self, job_id: str, **values: Any) -> JobRecord:
        """Set some columns (``params`` as a dict) and ``updated_at``; returns the new row."""
        unknown = set(values) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        if "status" in values and values["status"] not in STATUSES:
            raise ValueError(f"unknown status {values['status']!r}")
        if "params" in values:
            values["params"] = json.dumps(values["params"], sort_keys=True)
        values["updated_at"] = time.time()
        assignments = ", ".join(f"{k} = ?" for k in values)
        self._run(f"UPDATE match_jobs SET {assignments} WHERE job_id = ?",
                  (*values.values(), job_id))
        return self.get(job_id)

    # -- incremental state ---------------------------------------------------------------

    def link_hashes(self, link_key: str) -> dict[str, str]:
        """custom_id → content hash of every request of this link that completed before."""
        rows = self._run("SELECT custom_id, hash FROM match_link_state WHERE link_key = ?",
                         (link_key,))
        return {custom_id: digest for custom_id, digest in rows}

    def save_link_hashes(self, link_key: str, rows: Iterable[tuple[str, str]], job_id: str
                         ) -> int:
        """Remember ``(custom_id, hash)`` of completed requests (replacing older hashes)."""
        values = [(link_key, custom_id, digest, job_id) for custom_id, digest in rows]
        if values:
            self._run("INSERT INTO match_link_state VALUES (?, ?, ?, ?) ON CONFLICT "
                      "(link_key, custom_id) DO UPDATE SET hash = excluded.hash, "
                      "job_id = excluded.job_id", values, many=True)
        return len(values)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- private -------------------------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any] = (), many: bool = False
             ) -> list[tuple[Any, ...]]:
        if self._postgres:
            sql = sql.replace("?", "%s")
        with self._lock:
            cursor = self._conn.cursor()
            try:
                if many:
                    cursor.executemany(sql, params)
                else:
                    cursor.execute(sql, tuple(params))
                rows = list(cursor.fetchall()) if cursor.description else []
                self._conn.commit()
            except Exception:
                self._conn.rollback()
                raise
            finally:
                cursor.close()
            return rows


def _row(record: JobRecord) -> tuple[Any, ...]:
    values = asdict(record)
    values["params"] = json.dumps(record.params, sort_keys=True)
    return tuple(values[name] for name in _FIELDS)


def _record(row: Sequence[Any]) -> JobRecord:
    values = dict(zip(_FIELDS, row, strict=True))
    values["params"] = json.loads(values["params"] or "{}")
    for name in ("total", "completed", "failed", "skipped"):
        values[name] = int(values[name])
    return JobRecord(**values)


def _connect_postgres(dsn: SecretStr | str) -> Any:
    secret = dsn if isinstance(dsn, SecretStr) else SecretStr(dsn)
    try:
        import psycopg  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ConfigError("the PostgreSQL job table needs the psycopg package",
                          field="matching.job_store_dsn",
                          fix="pip install -e '.[postgres]' or unset "
                              "RECSTACK_MATCHING__JOB_STORE_DSN to use SQLite") from None
    try:
        return psycopg.connect(secret.get_secret_value(), autocommit=False, connect_timeout=10)
    except psycopg.Error as exc:
        # `from None` and no message text: a driver message may quote the DSN's password.
        raise ConfigError(f"cannot reach the PostgreSQL job table ({type(exc).__name__})",
                          field="matching.job_store_dsn",
                          fix="start the server or correct RECSTACK_MATCHING__JOB_STORE_DSN "
                              "(unset it to use SQLite)") from None


def open_job_store(root: Path, dsn: SecretStr | str | None = None) -> JobStore:
    """PostgreSQL when a DSN is set, else ``ROOT/jobs.db``."""
    if dsn is not None and (dsn.get_secret_value() if isinstance(dsn, SecretStr) else dsn):
        return JobStore(dsn=dsn)
    return JobStore(path=Path(root) / "jobs.db")
