"""The conversational system's route: ``POST /v1/chat`` answers one question."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator

from recstack.conversational.ask import LOGGED_AS, MAX_QUESTION_CHARS, Asker
from recstack.conversational.graph import LazyGraph
from recstack.registry.models import ModelVersionInfo
from recstack.serving import PredictionLoggerDep, StateDep

router = APIRouter(prefix="/v1", tags=["chat"])


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"question": "제주시 한림읍에 있는 카페 중 30대 이용 비중이 가장 높은 곳은?"}]})

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                          description="a Korean question about Jeju restaurants")
    thread: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[\w.:-]+$",
                               description="the conversation to continue (the `thread` of an "
                                           "earlier response); omitted: a new conversation")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty or only whitespace; send the user's question")
        return value


class ChatResponse(BaseModel):
    answer: list[str] = Field(description="merchant names, best first; ties included")
    cypher: str
    params: dict[str, Any]
    reasons: list[str]
    thread: str = Field(description="send it back to continue the conversation")
    kind: str = Field(description="answer, clarify (one question back) or decline (not "
                                  "about Jeju food and drink)")
    message: str = Field(description="the sentence to show the user")
    request_id: str


def get_asker(state: StateDep) -> Asker:
    """The service's asker; a NotFoundError (404) saying `recstack chat build` when the graph
    is not built."""
    graph: LazyGraph = state.resources["chat.graph"]
    asker: Asker = graph.asker()
    return asker

CHAT_MODEL = ModelVersionInfo(name=LOGGED_AS[0], version=LOGGED_AS[1], aliases=[], run_id=None,
                              tags={"model_type": "template-parser"})


@router.post("/chat", response_model=ChatResponse)
def chat(request: ChatRequest, asker: Annotated[Asker, Depends(get_asker)],
         logger: PredictionLoggerDep) -> ChatResponse:
    """Merchants answering the question, from the graph; every answer is logged."""
    answer = asker.ask(request.question, thread=request.thread or uuid.uuid4().hex[:12])
    features, output = answer.log_fields(request.question)
    request_id = logger.log(CHAT_MODEL, features=features, output=output)
    return ChatResponse(answer=answer.answer, cypher=answer.cypher, params=answer.params,
                        reasons=answer.reasons, thread=str(answer.thread), kind=answer.kind,
                        message=answer.message, request_id=request_id)
