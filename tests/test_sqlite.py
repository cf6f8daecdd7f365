"""Several processes opening one fresh SQLite file at once, as gunicorn workers do."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from recstack.sqlite import open_wal


def _open_and_write(path: str, barrier: mp.synchronize.Barrier, worker: int) -> None:
    barrier.wait()
    conn = open_wal(path)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS seen (worker INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO seen VALUES (?)", (worker,))
    conn.close()


def test_workers_opening_a_new_file_together_all_boot(tmp_path: Path):
    context = mp.get_context("spawn")
    workers = 6
    for attempt in range(3):
        path = tmp_path / f"log-{attempt}.db"
        barrier = context.Barrier(workers)
        processes = [context.Process(target=_open_and_write, args=(str(path), barrier, worker))
                     for worker in range(workers)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(60)
        assert [process.exitcode for process in processes] == [0] * workers
        conn = open_wal(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM seen").fetchone()[0] == workers
        conn.close()
