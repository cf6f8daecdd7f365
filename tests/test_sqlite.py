"""Several processes opening one fresh SQLite file at once, as gunicorn workers do."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from recstack.sqlite import open_wal

# Each child sleeps until the same instant, then opens the file and writes one row: the closest
# a test gets to gunicorn booting workers together.
CHILD = """
import sys, time
from recstack.sqlite import open_wal
path, worker, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
time.sleep(max(0.0, start_at - time.time()))
conn = open_wal(path)
with conn:
    conn.execute("CREATE TABLE IF NOT EXISTS seen (worker INTEGER PRIMARY KEY)")
    conn.execute("INSERT INTO seen VALUES (?)", (worker,))
conn.close()
"""


def test_workers_opening_a_new_file_together_all_boot(tmp_path: Path):
    workers = 6
    for attempt in range(3):
        path = tmp_path / f"log-{attempt}.db"
        start_at = time.time() + 3.0  # after every interpreter has started
        children = [subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(worker),
                                      str(start_at)], stderr=subprocess.PIPE, text=True)
                    for worker in range(workers)]
        errors = [child.communicate(timeout=120)[1] for child in children]
        assert [child.returncode for child in children] == [0] * workers, errors
        conn = open_wal(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM seen").fetchone()[0] == workers
        conn.close()
