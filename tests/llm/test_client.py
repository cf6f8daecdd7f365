"""The LLM client against a real OpenAI-compatible HTTP server process (scripted answers)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from recstack.errors import ConfigError
from recstack.llm import LLMOutputError, LLMUnavailable, open_chat_client
from recstack.server import free_port


class SamePlace(BaseModel):
    same: bool
    reason: str


def test_the_switch_is_off_by_default(settings):
    assert open_chat_client(settings) is None


def test_text_reply_and_the_request_it_sent(settings, scripted_llm):
    scripted_llm.script([{"when": "Hozenji", "reply": "yes"}, {"reply": "no"}])
    client = open_chat_client(scripted_llm.settings(settings))
    assert client is not None
    messages = [{"role": "system", "content": "Answer yes or no."},
                {"role": "user", "content": "Is Hozenji Yokocho near Hozenji temple?"}]
    assert client.complete(messages) == "yes"
    assert client.complete([{"role": "user", "content": "Janjan Yokocho Alley?"}]) == "no"
    sent = scripted_llm.requests()
    assert [body["messages"][-1]["content"] for body in sent] == [
        "Is Hozenji Yokocho near Hozenji temple?", "Janjan Yokocho Alley?"]
    assert sent[0]["model"] == "scripted" and sent[0]["temperature"] == 0.0


def test_json_reply_is_validated_against_the_schema_it_asked_for(settings, scripted_llm):
    scripted_llm.script([
        {"when": "A", "reply": '```json\n{"same": true, "reason": "one temple lane"}\n```'},
        {"when": "B", "reply": '{"same": "perhaps"}'}])
    client = open_chat_client(scripted_llm.settings(settings))
    answer = client.complete_json([{"role": "user", "content": "A"}], SamePlace)
    assert answer == SamePlace(same=True, reason="one temple lane")
    response_format = scripted_llm.requests()[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"]["required"] == ["same", "reason"]
    with pytest.raises(LLMOutputError, match="SamePlace"):
        client.complete_json([{"role": "user", "content": "B"}], SamePlace)


def test_prompt_mode_puts_the_schema_in_the_messages(settings, scripted_llm):
    scripted_llm.script([{"reply": '{"same": false, "reason": "different streets"}'}])
    client = open_chat_client(scripted_llm.settings(settings, structured_output="prompt"))
    assert not client.complete_json([{"role": "user", "content": "x"}], SamePlace).same
    body = scripted_llm.requests()[0]
    assert "response_format" not in body
    assert '"reason"' in body["messages"][-1]["content"]


def test_server_errors_are_retried_then_reported_as_unavailable(settings, scripted_llm):
    scripted_llm.script([{"status": 503, "times": 1}, {"reply": "recovered"}])
    client = open_chat_client(scripted_llm.settings(settings, max_retries=1))
    assert client.complete([{"role": "user", "content": "hi"}]) == "recovered"
    assert len(scripted_llm.requests()) == 2
    scripted_llm.script([{"status": 500}])
    with pytest.raises(LLMUnavailable, match="did not answer after 1 retries"):
        client.complete([{"role": "user", "content": "hi"}])
    assert len(scripted_llm.requests()) == 2


def test_a_slow_server_times_out_as_unavailable(settings, scripted_llm):
    scripted_llm.script([{"reply": "late", "delay_s": 3}])
    client = open_chat_client(scripted_llm.settings(settings, timeout_s=0.5))
    with pytest.raises(LLMUnavailable) as caught:
        client.complete([{"role": "user", "content": "hi"}])
    assert caught.value.field == "RECSTACK_LLM__BASE_URL"


def test_nothing_listening_is_unavailable_and_a_rejected_request_names_the_setting(
        settings, scripted_llm):
    down = settings.model_copy(update={"llm": settings.llm.model_copy(
        update={"base_url": f"http://127.0.0.1:{free_port()}/v1", "max_retries": 0})})
    with pytest.raises(LLMUnavailable, match="unset the variable"):
        open_chat_client(down).complete([{"role": "user", "content": "hi"}])
    scripted_llm.script([])  # no rule matches: the server answers 400
    with pytest.raises(ConfigError) as caught:
        open_chat_client(scripted_llm.settings(settings)).complete(
            [{"role": "user", "content": "hi"}])
    assert caught.value.field == "RECSTACK_LLM__STRUCTURED_OUTPUT"


def test_the_key_is_a_secret_sent_as_a_bearer_token(settings, scripted_llm, monkeypatch):
    from recstack.settings import Settings

    monkeypatch.setenv("RECSTACK_LLM__API_KEY", "sk-test-123")
    monkeypatch.setenv("RECSTACK_LLM__BASE_URL", scripted_llm.url)
    monkeypatch.setenv("RECSTACK_LLM__MODEL", "scripted")
    configured = Settings(home=settings.home)
    assert configured.llm.enabled
    assert "sk-test-123" not in repr(configured)
    scripted_llm.script([{"reply": "ok"}])
    assert open_chat_client(configured).complete([{"role": "user", "content": "hi"}]) == "ok"
    assert scripted_llm.requests()[0]["_authorization"] == "Bearer sk-test-123"
