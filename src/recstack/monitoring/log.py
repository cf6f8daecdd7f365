"""The prediction log: every served prediction, appended durably without blocking the request.

Guarantee. :meth:`PredictionLog.log` appends one JSON line to a write-ahead journal file (one
``write`` system call on an ``O_APPEND`` descriptor, microseconds) and hands the record to a
background thread that inserts batches into the store. Once ``log`` has returned, the record is
in the operating system's page cache, so it survives the process being killed — SIGKILL
included — and is replayed into the store on the next start (or by ``recover``). With
``fsync_journal`` it also survives power loss. On a clean shutdown (``close``; SIGTERM through
the service's lifespan) the queue is drained into the store and the journal segment removed.

Each process writes its own journal segment and holds an exclusive ``flock`` on it; recovery
replays and removes only segments whose lock it can take, i.e. whose writer has died, so several
workers may share one store.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recstack.monitoring.store import LogStore, log_store_class

if TYPE_CHECKING:
    from recstack.settings import Settings

logger = logging.getLogger(__name__)
_ROTATE_BYTES = 64 * 1024 * 1024


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


@dataclass(frozen=True)
class PredictionRecord:
    """One served prediction.

    Attributes:
        model_name: registered model (or system) that answered.
        model_version: its version.
        features: the input the model used, flat ``{name: value}`` where possible (drift is
            computed per key).
        output: what was returned (a number, a class, a list of item ids and scores, …).
        request_id: unique id returned to the client; late labels join on it.
        timestamp: epoch seconds when served.
        entity_id: user or patient id, for labels that join by entity and time.
    """

    model_name: str
    model_version: str
    features: Mapping[str, Any]
    output: Any
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    timestamp: float = field(default_factory=time.time)
    entity_id: str | None = None

    def to_row(self) -> tuple[Any, ...]:
        return (self.request_id, float(self.timestamp), self.model_name, str(self.model_version),
                self.entity_id, json.dumps(self.features, default=_json_default),
                json.dumps(self.output, default=_json_default))


def new_request_ids(n: int) -> list[str]:
    """``n`` request ids like ``uuid.uuid4().hex`` from one read of the OS's random source (a
    batch of 1,000 predictions needs 1,000 ids)."""
    raw = os.urandom(16 * n)
    return [uuid.UUID(bytes=raw[16 * i:16 * i + 16], version=4).hex for i in range(n)]


def open_store(settings: Settings) -> LogStore:
    """The backend ``settings.monitoring.log_store`` configures (its ``type`` names it)."""
    config = settings.monitoring.log_store
    return log_store_class(config.type).from_config(config, settings)


class PredictionLog:
    """Write-ahead journal + background batch writer in front of a :class:`LogStore`.

    Args:
        settings: where the store lives, batch size, flush interval, fsync.
        store: an open store to write to (default: :func:`open_store`).
    """

    def __init__(self, settings: Settings, store: LogStore | None = None):
        self.settings = settings
        cfg = settings.monitoring
        self._store = store
        self.journal_dir = cfg.resolved_store_path(settings.home).parent / "journal"
        # One item per log() or log_many() call: (segment, rows).
        self._queue: queue.Queue[tuple[int, list[tuple[Any, ...]]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._writer_lock = threading.Lock()
        self._written: dict[int, int] = {}      # segment → records appended
        self._committed: dict[int, int] = {}    # segment → records in the store
        self._segments: dict[int, tuple[Path, int]] = {}
        self._segment = -1
        self._thread: threading.Thread | None = None
        self._opened = False
        self._open_lock = threading.Lock()
        self.recovered = 0

    @property
    def store(self) -> LogStore:
        """The backend, opened on first use (building the service touches no database)."""
        if self._store is None:
            with self._open_lock:
                if self._store is None:
                    self._store = open_store(self.settings)
        return self._store

    def _ensure_open(self) -> None:
        """On first use: replay dead writers' journals, then open this process's segment."""
        if self._opened:
            return
        store = self.store
        with self._open_lock:
            if not self._opened:
                self.journal_dir.mkdir(parents=True, exist_ok=True)
                self.recovered = self._replay(store)
                self._open_segment()
                self._opened = True

    # -- request path -------------------------------------------------------------------------
    def log(self, record: PredictionRecord) -> str:
        """Append ``record`` durably and queue it for the store; returns its request id."""
        self.log_many([record])
        return record.request_id

    def log_many(self, records: list[PredictionRecord]) -> None:
        """Append several records durably in one write and queue them for the store together
        (a batch route: one system call and one wake-up of the writer, not one per record)."""
        if not records:
            return
        self._ensure_open()
        rows = [record.to_row() for record in records]
        data = "".join(json.dumps(row) + "\n" for row in rows).encode()
        with self._lock:
            _, fd = self._segments[self._segment]
            view = memoryview(data)
            while view:  # a regular file takes it in one call; loop in case it does not
                view = view[os.write(fd, view):]
            if self.settings.monitoring.fsync_journal:
                os.fsync(fd)
            self._written[self._segment] += len(rows)
            segment = self._segment
            if os.fstat(fd).st_size > _ROTATE_BYTES:
                self._open_segment()
        self._queue.put((segment, rows))
        self._ensure_writer()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> PredictionLog:
        """Open the store, recover journals and start the background writer (all also happen
        lazily on the first ``log``)."""
        self._ensure_open()
        self._ensure_writer()
        return self

    def flush(self, timeout: float = 30.0) -> None:
        """Block until every record logged so far is in the store."""
        deadline = time.monotonic() + timeout
        self._ensure_writer()
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        """Drain the queue into the store, stop the writer, remove the journal segments."""
        with self._writer_lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=60)
                self._thread = None
        with self._lock:
            for segment in list(self._segments):
                self._retire(segment, force=self._queue.empty())
            self._opened = False  # a later log() opens a fresh segment

    def __enter__(self) -> PredictionLog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def recover(self) -> int:
        """Replay journal segments of dead writers into the store; returns records replayed."""
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        return self._replay(self.store)

    def _replay(self, store: LogStore) -> int:
        replayed = 0
        for path in sorted(self.journal_dir.glob("segment-*.jsonl")):
            fd = os.open(path, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # a live writer owns it
            try:
                rows = _read_journal(path)
                if rows:
                    store.write_predictions(rows)
                replayed += len(rows)
                path.unlink()
            finally:
                os.close(fd)
        if replayed:
            logger.info("prediction log: replayed %d journalled records", replayed)
        return replayed

    # -- internals ----------------------------------------------------------------------------
    def _open_segment(self) -> None:
        self._segment += 1
        path = self.journal_dir / f"segment-{os.getpid()}-{time.time_ns()}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._segments[self._segment] = (path, fd)
        self._written[self._segment] = 0
        self._committed[self._segment] = 0

    def _retire(self, segment: int, force: bool = False) -> None:
        """Remove a segment once all its records are in the store (caller holds the lock)."""
        done = self._committed[segment] >= self._written[segment]
        if segment == self._segment and not force:
            return
        if not done:
            return
        path, fd = self._segments.pop(segment)
        path.unlink(missing_ok=True)
        os.close(fd)

    def _ensure_writer(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._writer_lock:  # concurrent first calls must start one writer, not several
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._write_loop, name="prediction-log",
                                                daemon=True)
                self._thread.start()

    def _write_loop(self) -> None:
        cfg = self.settings.monitoring
        stop = False
        while not stop:
            batch: list[tuple[int, tuple[Any, ...]]] = []
            items = 0
            deadline = time.monotonic() + cfg.flush_interval_s
            while len(batch) < cfg.batch_size:
                try:
                    item = self._queue.get(timeout=max(deadline - time.monotonic(), 0.001))
                except queue.Empty:
                    break
                if item is None:
                    self._queue.task_done()
                    stop = True
                    break
                segment, rows = item
                batch.extend((segment, row) for row in rows)
                items += 1
            if batch:
                self._commit(batch, items)

    def _commit(self, batch: list[tuple[int, tuple[Any, ...]]], items: int) -> None:
        stored = False
        for attempt in range(5):
            try:
                self.store.write_predictions([row for _, row in batch])
                stored = True
                break
            except Exception as exc:  # a locked or unreachable store: the journal still has it
                logger.warning("prediction log: store write failed (%s), attempt %d", exc,
                               attempt + 1)
                time.sleep(0.2 * 2**attempt)
        else:
            logger.error("prediction log: %d records stay in the journal until the next start",
                         len(batch))
        with self._lock:
            for segment, _ in batch:
                # Unstored records keep their segment on disk: recover() replays it later.
                self._committed[segment] += 1 if stored else 0
            for segment in {s for s, _ in batch}:
                if segment in self._segments and segment != self._segment:
                    self._retire(segment)
        for _ in range(items):
            self._queue.task_done()


def _read_journal(path: Path) -> list[tuple[Any, ...]]:
    """Rows of a journal segment; a torn last line (killed mid-write) is skipped."""
    rows = []
    with path.open("rb") as fh:
        for raw in fh:
            try:
                rows.append(tuple(json.loads(raw)))
            except ValueError:
                continue
    return rows
