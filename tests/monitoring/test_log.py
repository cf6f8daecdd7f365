"""The prediction log: background batches, write-ahead journal, recovery after a crash."""

from __future__ import annotations

import subprocess
import sys
import threading

from recstack.monitoring import PredictionLog, PredictionRecord
from recstack.monitoring.labels import prediction_frame


def test_logged_records_reach_the_store_and_the_journal_is_removed(settings):
    with PredictionLog(settings) as log:
        ids = [log.log(PredictionRecord("m", "3", {"age": i, "city": "Osaka"}, {"y": i / 2}))
               for i in range(300)]
        log.flush()
        assert len(log.store.read_predictions()) == 300
    frame = prediction_frame(log.store, "m")
    assert frame["request_id"].tolist() == ids
    assert frame["age"].tolist() == list(range(300)) and frame["output_y"].iloc[4] == 2.0
    assert not list(log.journal_dir.glob("*.jsonl"))


def test_log_many_journals_a_batch_in_order_and_stores_every_record(settings):
    from recstack.monitoring.log import new_request_ids

    ids = new_request_ids(250)
    assert len(set(ids)) == 250 and all(len(i) == 32 and i[12] == "4" for i in ids)  # uuid4 hex
    settings.monitoring.flush_interval_s = 30  # nothing reaches the store before the check
    log = PredictionLog(settings)
    log.log_many([PredictionRecord("m", "2", {"i": i}, i, request_id=r)
                  for i, r in enumerate(ids)])
    log.log(PredictionRecord("m", "2", {"i": 250}, 250, request_id="last"))
    [journal] = log.journal_dir.glob("*.jsonl")
    lines = journal.read_text().splitlines()
    assert [line.split('"')[1] for line in lines] == [*ids, "last"]  # written before returning
    log.close()  # drains the queue into the store
    frame = prediction_frame(log.store, "m")
    assert frame["request_id"].tolist() == [*ids, "last"]
    assert frame["i"].tolist() == list(range(251))
    assert not list(log.journal_dir.glob("*.jsonl"))


def test_concurrent_loggers_lose_nothing(settings):
    log = PredictionLog(settings)

    def burst(worker: int) -> None:
        for i in range(200):
            log.log(PredictionRecord("m", "1", {"w": worker}, i, request_id=f"{worker}-{i}"))

    threads = [threading.Thread(target=burst, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert len(log.store.read_predictions()) == 800


def test_a_killed_process_loses_no_acknowledged_record(settings):
    """SIGKILL right after logging: the journal is replayed by the next PredictionLog."""
    code = f"""
import os, signal
from pathlib import Path
from recstack.settings import Settings
from recstack.monitoring import PredictionLog, PredictionRecord
settings = Settings(home=Path({str(settings.home)!r}))
settings.monitoring.flush_interval_s = 30  # nothing reaches SQLite before the kill
log = PredictionLog(settings)
for i in range(500):
    log.log(PredictionRecord("m", "1", {{"i": i}}, i, request_id=f"r{{i}}"))
print("logged", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == -9 and "logged" in result.stdout, result.stderr
    log = PredictionLog(settings).start()
    assert log.recovered == 500
    stored = set(log.store.read_predictions()["request_id"])
    assert stored == {f"r{i}" for i in range(500)}
    log.close()


def test_a_live_writers_journal_is_not_replayed_by_another(settings):
    first = PredictionLog(settings)
    first.log(PredictionRecord("m", "1", {}, 0))
    second = PredictionLog(settings).start()
    assert second.recovered == 0
    assert len(list(first.journal_dir.glob("*.jsonl"))) == 2
    first.close()
    second.close()
    assert len(second.store.read_predictions()) == 1
