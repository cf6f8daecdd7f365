"""Link jobs with the local matcher: statuses, counts, one line per request, incremental runs,
retry of failed requests only, pause on an unreachable endpoint, cancel, expiry, the job table
in SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import time

import pytest
from tests.matching.link_tables import write_table
from tests.postgres import postgres_dsn

from recstack.errors import ConfigError, NotFoundError
from recstack.matching.executors import EndpointUnavailable, LocalExecutor, error_line
from recstack.matching.jobs import LinkConfig, MatchJobs
from recstack.matching.jobs_store import JobRecord, JobStore
from recstack.settings import Settings

MODEL = "place-matcher/1"


@pytest.fixture(scope="module")
def link_home(tmp_path_factory, geo_files, geo_pairs):
    """A home with a thresholds matcher (place-matcher/1) and two real tables from Geo-ER."""
    from recstack.matching.blocking import tables_from_pairs
    from recstack.matching.pipeline import MatchTrainConfig, train

    folder = tmp_path_factory.mktemp("link")
    settings = Settings(home=folder / "home")
    train(MatchTrainConfig(geo_files["train"], geo_files["valid"], model="thresholds"),
          settings, pairs=(geo_pairs["train"], geo_pairs["valid"]))
    left, right, matches = tables_from_pairs(geo_pairs["test"])
    return (settings, write_table(folder / "left.csv", "L", left),
            write_table(folder / "right.csv", "R", right), matches)


def ids_of(path):
    return [json.loads(line)["custom_id"] for line in path.read_text().splitlines()]


def fresh(link_home, tmp_path, chunk_size=25, **kwargs):
    settings, left, right, _ = link_home
    settings = Settings(home=settings.home, systems={"matching": {
        "jobs_dir": str(tmp_path / "jobs")}})
    config = LinkConfig(left, right, model=MODEL, chunk_size=chunk_size)
    return MatchJobs(settings, **kwargs), config


def test_a_link_job_answers_every_left_record_once_in_two_stages(link_home, tmp_path):
    jobs, config = fresh(link_home, tmp_path)
    n_left = len(config.left.read_text().splitlines()) - 1
    seen = []
    record = jobs.link(config, "first", advance=seen.append)
    assert record.status == "completed" and record.model == MODEL
    assert (record.total, record.completed, record.failed, record.pending) == (n_left, n_left,
                                                                              0, 0)
    assert sum(seen) == n_left
    lines = [json.loads(x) for x in record.output_path.read_text().splitlines()]
    assert sorted(x["custom_id"] for x in lines) == sorted(f"L{i}" for i in range(n_left))
    assert record.error_path.read_text() == ""
    responses = [x["response"] for x in lines]
    # 1:1 verification only confirms or rejects what 1:N selected
    assert all(r["match"] in (None, r["selected"]) for r in responses)
    assert all(r["verified"] is None for r in responses if r["selected"] is None)
    # real tables: most true matches found, few wrong ones kept
    matches = link_home[3]
    found = {(int(r["left_id"][1:]), int(r["match"][1:])) for r in responses if r["match"]}
    assert len(found & matches) / len(found) > 0.6 and len(found & matches) > len(matches) / 2
    assert jobs.recent()[0].job_id == "first"
    again = jobs.link(config, "first")  # a finished job is not run twice
    assert again.updated_at == record.updated_at


def test_incremental_runs_send_only_new_or_changed_records(link_home, tmp_path):
    jobs, config = fresh(link_home, tmp_path)
    first = jobs.link(config, "full")
    unchanged = jobs.link(config, "nothing-new")
    assert (unchanged.status, unchanged.total, unchanged.skipped) == ("completed", 0,
                                                                      first.total)
    with open(config.left, encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[1][1] += " Annex"  # L0 and L1 renamed, two new records
    rows[2][1] = "Totally Renamed Place"
    rows += [["N1", "Carnegie Museum of Art", "40.4437", "-79.9492", "4400 Forbes Ave"],
             ["N2", "Phipps Conservatory", "40.4390", "-79.9470", "1 Schenley Dr"]]
    changed = tmp_path / "left2.csv"
    with open(changed, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    later = jobs.link(LinkConfig(changed, config.right, model=MODEL, chunk_size=4,
                                 link_key=first.link_key), "incremental")
    assert later.total == 4 and later.skipped == first.total - 2
    assert sorted(ids_of(later.output_path)) == ["L0", "L1", "N1", "N2"]


class Flaky:
    """The real local executor behind a remote's failures: some requests fail on their first
    try, and one chunk finds the endpoint down once."""

    name = "local"

    def __init__(self, inner, fail=(), down_at=None):
        self.inner, self.fail, self.down_at = inner, set(fail), down_at
        self.asked: list[str] = []
        self.calls = 0

    def execute(self, requests):
        self.calls += 1
        if self.calls == self.down_at:
            raise EndpointUnavailable("connection refused")
        self.asked += [r.custom_id for r in requests]
        lines = self.inner.execute(requests)
        out = [error_line(r, "server_error", "500") if r.custom_id in self.fail else line
               for r, line in zip(requests, lines, strict=True)]
        self.fail -= {r.custom_id for r in requests}
        return out


def flaky_factory(**kwargs):
    from recstack.matching.pipeline import load_bundle

    made = {}

    def factory(params, settings):  # one executor for every run: its failures happen once
        if "executor" not in made:
            made["executor"] = Flaky(LocalExecutor(load_bundle(params["model"], settings)[0]),
                                     **kwargs)
        return made["executor"]

    return factory, made


def test_failed_requests_go_to_the_error_file_and_retry_sends_only_them(link_home, tmp_path):
    factory, made = flaky_factory(fail={"L1", "L5", "L6"})
    jobs, config = fresh(link_home, tmp_path, executor_factory=factory)
    record = jobs.link(config, "flaky")
    assert (record.status, record.failed) == ("completed", 3)
    assert ids_of(record.error_path) == ["L1", "L5", "L6"]
    assert json.loads(record.error_path.read_text().splitlines()[0])["error"]["code"] == \
        "server_error"
    sent_before = len(made["executor"].asked)
    retried = jobs.retry("flaky")
    # only the failed ones were re-sent
    assert made["executor"].asked[sent_before:] == ["L1", "L5", "L6"]
    assert (retried.status, retried.completed, retried.failed) == ("completed", record.total, 0)
    ids = ids_of(retried.output_path)
    assert len(ids) == len(set(ids)) == record.total and retried.error_path.read_text() == ""
    with pytest.raises(ConfigError):
        jobs.cancel("flaky")  # finished: nothing to cancel


def test_an_unreachable_endpoint_pauses_the_job_and_resume_loses_nothing(link_home, tmp_path):
    factory, made = flaky_factory(down_at=3)
    jobs, config = fresh(link_home, tmp_path, chunk_size=4, executor_factory=factory)
    paused = jobs.link(config, "paused")
    assert paused.status == "in_progress" and paused.message.startswith("paused")
    assert paused.completed == 8 and paused.pending == paused.total - 8
    assert not paused.output_path.exists()
    resumed = jobs.link(config, "paused")
    assert (resumed.status, resumed.completed) == ("completed", resumed.total)
    ids = ids_of(resumed.output_path)
    assert sorted(ids) == sorted(set(ids)) and len(ids) == resumed.total
    # the resumed process sent only the chunks that were not done
    assert len(made["executor"].asked) == resumed.total


def test_cancel_a_job_that_no_process_runs_and_one_that_runs(link_home, tmp_path):
    jobs, config = fresh(link_home, tmp_path, chunk_size=4)
    planned = jobs.start(config, "planned")
    assert planned.status == "in_progress" and planned.pending == planned.total
    cancelled = jobs.cancel("planned")
    assert (cancelled.status, cancelled.completed) == ("cancelled", 0)
    assert jobs.run("planned").status == "cancelled"  # a cancelled job stays cancelled

    class CancelsItself(Flaky):
        def execute(self, requests):
            jobs.cancel("running")  # as `recstack match jobs cancel` from another shell
            return super().execute(requests)

    from recstack.matching.pipeline import load_bundle

    jobs.executor_factory = lambda params, settings: CancelsItself(
        LocalExecutor(load_bundle(params["model"], settings)[0]))
    stopped = jobs.link(config, "running")
    assert (stopped.status, stopped.completed) == ("cancelled", 4)  # its one chunk is kept
    assert len(ids_of(stopped.output_path)) == 4


def test_an_expired_job_moves_unsent_requests_to_the_error_file(link_home, tmp_path):
    jobs, config = fresh(link_home, tmp_path)
    config.completion_window_h = 0.0
    record = jobs.link(config, "late")
    assert (record.status, record.completed, record.failed) == ("expired", 0, record.total)
    codes = {json.loads(x)["error"]["code"] for x in record.error_path.read_text().splitlines()}
    assert codes == {"expired"}
    jobs.store.update("late", params={**record.params, "completion_window_h": 1.0})
    assert jobs.retry("late").status == "completed"


def test_unknown_jobs_and_bad_options_are_named(link_home, tmp_path):
    jobs, config = fresh(link_home, tmp_path)
    with pytest.raises(NotFoundError) as caught:
        jobs.status("no-such-job")
    assert "jobs list" in caught.value.fix
    config.executor = "carrier-pigeon"
    with pytest.raises(ConfigError) as bad:
        jobs.start(config, "x")
    assert bad.value.field == "--executor"
    config.executor = "chat"
    with pytest.raises(ConfigError) as off:  # the LLM switch is off in tests
        jobs.link(config, "llm-off")
    assert "RECSTACK_LLM__BASE_URL" in off.value.fix


# -- the job table: the same contract in SQLite and PostgreSQL --------------------------------

def _postgres_dsn():
    return postgres_dsn("DROP TABLE IF EXISTS match_jobs, match_link_state")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return JobStore(path=tmp_path / "jobs.db")
    return JobStore(dsn=_postgres_dsn())


def test_the_job_table_contract(store):
    now = time.time()
    record = JobRecord("j1", "validating", "local", "m/1", "a|b", "/tmp/j1", now, now,
                       params={"rounds": []})
    store.create(record)
    with pytest.raises(ConfigError):
        store.create(record)
    store.create(JobRecord("j2", "validating", "chat", None, "a|b", "/tmp/j2", now + 1,
                           now + 1))
    updated = store.update("j1", status="in_progress", total=10, completed=3, failed=1,
                           params={"rounds": [1]})
    assert (updated.status, updated.pending, updated.params) == ("in_progress", 6,
                                                                {"rounds": [1]})
    assert [r.job_id for r in store.recent()] == ["j2", "j1"]
    with pytest.raises(ValueError):
        store.update("j1", status="sleeping")
    with pytest.raises(NotFoundError):
        store.get("j3")
    assert store.save_link_hashes("a|b", [("x", "h1"), ("y", "h2")], "j1") == 2
    store.save_link_hashes("a|b", [("x", "h3")], "j2")
    assert store.link_hashes("a|b") == {"x": "h3", "y": "h2"}
    assert store.link_hashes("other") == {}


def test_a_job_runs_with_its_table_in_postgres(link_home, tmp_path):
    jobs, config = fresh(link_home, tmp_path, store=JobStore(dsn=_postgres_dsn()))
    record = jobs.link(config, "pg")
    assert record.status == "completed" and len(ids_of(record.output_path)) == record.total
    assert jobs.link(config, "pg-again").skipped == record.total
