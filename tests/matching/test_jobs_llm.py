"""Link jobs answered by an LLM behind the switch, against the scripted OpenAI-compatible
server (a real HTTP process): the seed's 1:N and 1:1 prompts with structured output, retries
of answers that do not fit, an unreachable endpoint that pauses the job, and the same job
through the Batch API's files (upload, create, poll, download)."""

from __future__ import annotations

import json

import pytest

from recstack.matching.jobs import LinkConfig, MatchJobs
from recstack.server import free_port
from recstack.settings import Settings

LEFT = ("id,name,lat,lon\n"
        "a,Bellefield Presbyterian Church,40.44364,-79.95672\n"
        "b,Carnegie Station,40.4059,-80.0909\n"
        "c,Phipps Conservatory,40.4390,-79.9470\n"
        "d,Hozenji Yokocho,34.6686,135.5017\n")
RIGHT = ("id,name,lat,lon\n"
         "r1,Bellefield Church,40.4436,-79.95675\n"
         "r2,Carnegie Station (Port Authority),40.4060,-80.0908\n"
         "r3,Schenley Park Visitor Center,40.4381,-79.9468\n"
         "r4,Janjan Yokocho Alley,34.6503,135.5062\n")
# Every right record is a candidate of every left one (k = 10 > 4), numbered r1..r4 = 1..4.
SCRIPT = [
    {"when": "Place A: Bellefield Presbyterian Church", "reply": '{"candidate": 1}'},
    {"when": "Place A: Carnegie Station", "reply": '{"candidate": 2}'},
    {"when": "Place A: Phipps Conservatory", "reply": '{"candidate": 0}'},
    {"when": "Place A: Hozenji Yokocho", "reply": '{"candidate": 4}'},
    {"when": "A: Bellefield Presbyterian Church", "reply": '{"answer": "yes"}'},
    {"when": "A: Carnegie Station", "reply": '{"answer": "yes"}'},
    {"when": "A: Hozenji Yokocho", "reply": '{"answer": "no"}'},  # the seed's example
]
EXPECTED = {"a": ("r1", True, "r1"), "b": ("r2", True, "r2"), "c": (None, None, None),
            "d": ("r4", False, None)}


@pytest.fixture()
def tables(tmp_path):
    (tmp_path / "left.csv").write_text(LEFT, encoding="utf-8")
    (tmp_path / "right.csv").write_text(RIGHT, encoding="utf-8")
    return tmp_path / "left.csv", tmp_path / "right.csv"


def jobs_for(tmp_path, scripted_llm, **llm):
    settings = Settings(home=tmp_path / "home")
    return MatchJobs(scripted_llm.settings(settings, **llm))


def answers(record):
    lines = [json.loads(x) for x in record.output_path.read_text().splitlines()]
    return {x["custom_id"]: (x["response"]["selected"], x["response"]["verified"],
                             x["response"]["match"]) for x in lines}


@pytest.mark.parametrize("executor", ["chat", "batch"])
def test_the_seed_prompts_select_then_verify(tmp_path, scripted_llm, tables, executor):
    scripted_llm.script(SCRIPT)
    jobs = jobs_for(tmp_path, scripted_llm)
    record = jobs.link(LinkConfig(*tables, executor=executor, concurrency=2, poll_s=0.01),
                       f"{executor}-job")
    assert (record.status, record.completed, record.failed) == ("completed", 4, 0)
    assert record.model == "scripted"
    assert answers(record) == EXPECTED  # the 1:1 question removed Hozenji ↔ Janjan
    received = scripted_llm.requests()
    asked = [r["messages"][-1]["content"] for r in received]
    assert sum("Which of these candidates is the same place as A, or none?" in q
               for q in asked) == 4
    assert sum("Answer yes if A and B are the same place or nearby, else no." in q
               for q in asked) == 3  # only selected pairs are verified
    formats = {r["response_format"]["json_schema"]["name"] for r in received}
    assert formats == {"Choice", "Verdict"}  # structured output


def test_answers_that_do_not_fit_are_retried_then_logged_and_retry_resends_them(
        tmp_path, scripted_llm, tables):
    scripted_llm.script([{"when": "Place A: Carnegie Station", "reply": "maybe?", "times": 1},
                         {"when": "Place A: Phipps Conservatory", "reply": "no idea"},
                         *SCRIPT])
    jobs = jobs_for(tmp_path, scripted_llm)
    config = LinkConfig(*tables, executor="chat", max_attempts=2)
    record = jobs.link(config, "flaky-llm")
    assert (record.status, record.completed, record.failed) == ("completed", 3, 1)
    assert answers(record)["b"] == EXPECTED["b"]  # its second try fitted the schema
    [error] = [json.loads(x) for x in record.error_path.read_text().splitlines()]
    assert error["custom_id"] == "c" and error["error"]["code"] == "invalid_output"
    phipps = [r for r in scripted_llm.requests() if "Phipps" in r["messages"][-1]["content"]]
    assert len(phipps) == 2  # max_attempts

    scripted_llm.script(SCRIPT)
    retried = jobs.retry("flaky-llm")
    assert (retried.status, retried.completed, retried.failed) == ("completed", 4, 0)
    assert [r["messages"][-1]["content"].split("\n")[0] for r in scripted_llm.requests()] == \
        ["Place A: Phipps Conservatory; coordinates: 40.43900, -79.94700"]
    assert answers(retried) == EXPECTED


@pytest.mark.parametrize("executor", ["chat", "batch"])
def test_an_unreachable_endpoint_pauses_requests_as_pending_and_resume_sends_them(
        tmp_path, scripted_llm, tables, executor):
    scripted_llm.script(SCRIPT)
    down = jobs_for(tmp_path, scripted_llm, base_url=f"http://127.0.0.1:{free_port()}/v1")
    config = LinkConfig(*tables, executor=executor, poll_s=0.01)
    paused = down.link(config, "outage")
    assert paused.status == "in_progress" and paused.pending == 4
    assert "paused" in paused.message and "--job outage" in paused.message
    up = jobs_for(tmp_path, scripted_llm)
    resumed = up.link(config, "outage")
    assert (resumed.status, resumed.completed) == ("completed", 4)
    assert answers(resumed) == EXPECTED


def test_a_resumed_batch_chunk_polls_the_batch_it_created_instead_of_sending_it_again(
        tmp_path, scripted_llm, tables):
    from recstack.llm.batches import BatchClient, chat_request
    from recstack.matching.executors_batch import BatchExecutor
    from recstack.matching.link import plan_requests, read_link_table, to_request
    from recstack.matching.stages import Choice, select_messages

    scripted_llm.script(SCRIPT)
    settings = scripted_llm.settings(Settings(home=tmp_path / "home"))
    left, right = (read_link_table(path) for path in tables)
    requests = [to_request(plan, left, right) for plan in plan_requests(left, right)]
    client = BatchClient(settings.llm)
    # What a process killed while polling left behind: the 1:N batch exists, its id is saved.
    first = client.create(client.upload([chat_request(r.custom_id, select_messages(
        r.left, [c for _, c in r.candidates]), settings.llm, Choice)
                                         for r in requests]))
    saved = {"chunk.select": first.id}

    def memo(initial):
        for name, value in initial.items():
            saved.setdefault(name, value)
        return dict(saved)

    lines = BatchExecutor(client, poll_s=0.01).execute(requests, key="chunk", memo=memo)
    got = {x["custom_id"]: (x["response"]["selected"], x["response"]["verified"],
                            x["response"]["match"]) for x in lines}
    assert got == EXPECTED
    asked = [r["messages"][-1]["content"] for r in scripted_llm.requests()]
    assert sum("Which of these candidates" in q for q in asked) == 4  # once each, not twice
    assert saved["chunk.select"] == first.id and "chunk.verify" in saved
