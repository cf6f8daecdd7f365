"""Nightly place matching and NLU re-training on small real data, as a scheduler runs them."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from recstack.errors import DataError
from recstack.pipelines import day_interval, find_pipeline, run_pipeline
from recstack.registry.models import ModelRegistry
from recstack.systems import installed_systems


def _run(settings, name, date, params):
    pipeline = find_pipeline(installed_systems(), name)
    start, end = day_interval(date, pipeline)
    return run_pipeline(settings, pipeline, params=params, start=start, end=end)


def _pair_file(shared_data: Path, part: str, n: int, out: Path) -> Path:
    source = shared_data / "place-matching/geo-er/osm_fsq/pit" / f"{part}.txt.gz"
    if not source.is_file():
        pytest.skip(f"no Geo-ER pairs at {source}")
    with gzip.open(source, "rt", encoding="utf-8") as f:
        lines = [next(f) for _ in range(n)]
    path = out / f"{part}.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(lines)
    return path


def _table(records, ids, updated=None) -> pd.DataFrame:
    frame = pd.DataFrame([{"id": i, "name": r.name, "latitude": r.lat, "longitude": r.lon,
                           "address": r.address} for i, r in zip(ids, records, strict=True)])
    return frame if updated is None else frame.assign(updated_at=updated)


def _nightly_inputs(settings, shared_data, tmp_path):
    """place-matcher/1 (champion) and two tables from Geo-ER pairs, the records updated on
    2026-03-01 and 2026-03-02 alternately."""
    from recstack.matching.blocking import tables_from_pairs
    from recstack.matching.data import read_pairs
    from recstack.matching.pipeline import MatchTrainConfig, train

    files = {part: _pair_file(shared_data, part, n, tmp_path)
             for part, n in (("train", 600), ("valid", 300), ("test", 300))}
    trained = train(MatchTrainConfig(files["train"], files["valid"], model="thresholds"), settings)
    ModelRegistry(settings).promote(trained.version.name, trained.version.version)
    left, right, truth = tables_from_pairs(read_pairs(files["test"], require_labels=True))
    days = ["2026-03-01T10:00:00Z" if i % 2 else "2026-03-02T10:00:00Z" for i in range(len(left))]
    _table(left, [f"L{i}" for i in range(len(left))], days).to_csv(tmp_path / "new.csv",
                                                                   index=False)
    _table(right, [f"R{j}" for j in range(len(right))]).to_csv(tmp_path / "ref.csv", index=False)
    params = {"records": str(tmp_path / "new.csv"), "reference": str(tmp_path / "ref.csv")}
    return params, left, truth


def test_nightly_matching_links_only_the_records_updated_that_day(settings, shared_data,
                                                                   tmp_path):
    params, left, truth = _nightly_inputs(settings, shared_data, tmp_path)
    summary = _run(settings, "matching-nightly", "2026-03-02", params)["link"]
    linked_today = {f"L{i}" for i in range(0, len(left), 2)}
    assert summary["records"] == len(linked_today) and summary["version"] == "1"
    matches = pd.read_csv(summary["out"])
    assert set(matches["record_id"]) <= linked_today
    correct = {(f"L{i}", f"R{j}") for i, j in truth}
    found = set(zip(matches["record_id"], matches["reference_id"], strict=True))
    assert len(found & correct) >= 0.7 * len(found) > 0  # precision on real pairs
    with pytest.raises(DataError) as outside:
        _run(settings, "matching-nightly", "2026-04-01", params)
    assert outside.value.field == "--date" and "2026-03-01" in outside.value.fix


def test_a_killed_nightly_matching_run_resumes_its_link_job(settings, shared_data, tmp_path):
    from recstack.matching.jobs_store import JobStore

    params, left, _ = _nightly_inputs(settings, shared_data, tmp_path)
    params["chunk_size"] = "5"
    args = [sys.executable, "-m", "recstack", "pipeline", "run", "matching-nightly", "--date",
            "2026-03-02", *(x for k, v in params.items() for x in ("--param", f"{k}={v}"))]
    env = {**os.environ, "RECSTACK_HOME": str(settings.home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    process = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store_path, at_kill = settings.home / "match-jobs" / "jobs.db", None
    deadline = time.time() + 240
    try:
        while at_kill is None and time.time() < deadline and process.poll() is None:
            if store_path.is_file():
                store = JobStore(path=store_path)
                jobs = store.recent()
                store.close()
                if jobs and jobs[0].completed >= 20:
                    os.kill(process.pid, signal.SIGKILL)
                    at_kill = jobs[0]
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
    assert at_kill is not None and 0 < at_kill.completed < at_kill.total, "not killed mid-job"
    outputs = Path(at_kill.folder) / "outputs"
    before = {p.name: p.stat().st_mtime_ns for p in outputs.glob("*.jsonl")}

    summary = _run(settings, "matching-nightly", "2026-03-02", params)["link"]
    assert summary["job"] == at_kill.job_id  # resumed, not started again
    kept = {p.name: p.stat().st_mtime_ns for p in outputs.glob("*.jsonl") if p.name in before}
    assert kept == before and len(before) >= 4  # chunks done before the kill were not redone
    lines = Path(at_kill.folder, "output.jsonl").read_text().splitlines()
    ids = sorted(json.loads(line)["custom_id"] for line in lines)
    assert ids == sorted(f"L{i}" for i in range(0, len(left), 2))  # each record once
    store = JobStore(path=store_path)
    assert [j.job_id for j in store.recent()] == [at_kill.job_id]
    store.close()


def test_nlu_retrains_only_when_labelled_questions_arrive(settings, shared_data, tmp_path):
    from recstack.nlu.data import make_splits, write_examples

    labelled = tmp_path / "labelled"
    questions = make_splits(seed=5, shared_dir=shared_data).test
    write_examples(questions[:4], labelled / "2026-01-01.jsonl")
    write_examples(questions[4:7], labelled / "2026-01-03.jsonl")
    params = {"labelled": str(labelled), "model": "rules"}
    quiet = _run(settings, "nlu-retrain", "2026-01-02", params)
    assert "skipped" in quiet["train"] and "skipped" in quiet["promote"]
    assert not ModelRegistry(settings).list("travel-nlu")

    summaries = _run(settings, "nlu-retrain", "2026-01-03", params)
    assert summaries["train"]["n_labelled"] == 7 and summaries["train"]["version"] == "1"
    assert 0 < summaries["evaluate"]["test"]["intent_accuracy"] <= 1
    assert summaries["promote"]["champion"]["version"] == "1"
    assert ModelRegistry(settings).get("travel-nlu", alias="champion").version == "1"
    with pytest.raises(DataError) as outside:
        _run(settings, "nlu-retrain", "2025-12-01", params)
    assert outside.value.field == "--date" and "2026-01-01 to 2026-01-03" in str(outside.value)


def test_sequential_retrains_on_the_history_before_each_interval(settings):
    from recstack.data.synthetic import TravelConfig, generate_travel

    generate_travel(TravelConfig(n_users=300, n_products=120, n_countries=4, seed=1)).write(
        settings.data_home / "travel")
    march = _run(settings, "sequential", "2024-03-01", {})
    june = _run(settings, "sequential", "2024-06-01", {"model": "popularity"})
    assert march["train"]["n_events"] < june["train"]["n_events"]  # history up to each date
    assert [march["train"]["version"], june["train"]["version"]] == ["1", "2"]
    assert 0 <= june["evaluate"]["test"]["ndcg_at_10"] <= 1
    valid = {s["train"]["version"]: s["train"]["valid"]["ndcg_at_10"] for s in (march, june)}
    assert june["promote"]["champion"]["version"] == max(valid, key=valid.get)
    with pytest.raises(DataError) as outside:
        _run(settings, "sequential", "2025-01-01", {})
    assert outside.value.field == "--date" and "2024-01-01" in outside.value.fix
