"""Open a SQLite file in write-ahead-log mode, safely when several processes start at once.

Every embedded store (prediction log, alerts, job tables, online features) is one SQLite file
in WAL mode, and under ``recstack serve --workers N`` the workers open the same file at the
same moment. Switching a file's journal to WAL needs an exclusive lock, and SQLite answers
``database is locked`` at once, without waiting on the busy timeout, when another connection
holds a lock at that instant (seen in CI: one of two gunicorn workers failed to boot). WAL is
a property of the file that persists, so the switch is made only when the file is not yet in
WAL mode, and retried briefly when another process is making it.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

__all__ = ["open_wal"]


def open_wal(path: Path | str, *, check_same_thread: bool = True, timeout: float = 30.0,
             synchronous: str = "NORMAL") -> sqlite3.Connection:
    """Connect to ``path`` with the journal in WAL mode.

    Args:
        path: the database file; its folder is created.
        check_same_thread: ``False`` for a connection shared by threads behind a lock.
        timeout: seconds a statement waits on another writer's lock (and the WAL switch retries).
        synchronous: ``NORMAL`` loses nothing when the process dies, only (maybe) the last
            transaction on power loss; ``FULL`` also survives that.

    Raises:
        sqlite3.OperationalError: the file stayed locked for ``timeout`` seconds.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=check_same_thread, timeout=timeout)
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn
