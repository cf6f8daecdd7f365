"""The NLU system's route: ``POST /v1/nlu/parse`` for one question or a batch."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from recstack.nlu.bundle import NLUBundle, monitored_features
from recstack.serving import (
    SHED_RESPONSE,
    ModelRef,
    PredictionLoggerDep,
    VersionCache,
    limit_concurrency,
    model_cache,
    not_null,
)

router = APIRouter(prefix="/v1/nlu", tags=["nlu"])
ModelsDep = Annotated[VersionCache[NLUBundle], Depends(model_cache("nlu"))]
MAX_TEXT_CHARS = 512
MAX_BATCH = 64
# What _check_text accepts, in the schema: no control character but tab and newlines, and not
# only whitespace.
_TEXT_CHAR = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
# One visible character: not whitespace and not a control character, spelled out (Python reads
# U+001C-U+001F as whitespace, the schema validator's regex does not).
TEXT_PATTERN = rf"^{_TEXT_CHAR}*[^\s\x00-\x1f\x7f-\x9f]{_TEXT_CHAR}*$"
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS, pattern=TEXT_PATTERN)]


def _check_text(text: str) -> str:
    if not text.strip():
        raise ValueError("the text is empty or only whitespace; send the user's question")
    bad = sorted({f"U+{ord(c):04X}" for c in text
                  if unicodedata.category(c) == "Cc" and c not in "\t\n\r"})
    if bad:
        raise ValueError(f"the text holds control characters ({', '.join(bad)}); remove them")
    return text


class ParseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "가족끼리 태국 파타야 여행지 추천해줘"},
        {"texts": ["홋카이도 3박4일 일정 짜줘", "다음달 오사카 날씨 어때?"]}],
        "oneOf": [{"required": ["text"]}, {"required": ["texts"]}]})

    # Constraints inside the Annotated: on the union they would leave the schema.
    text: Text | SkipJsonSchema[None] = Field(None, description="one question")
    texts: Annotated[list[Text], Field(min_length=1, max_length=MAX_BATCH)] \
        | SkipJsonSchema[None] = Field(None, description="several questions, parsed in order")
    _not_null = field_validator("text", "texts", mode="before")(not_null)
    model: ModelRef | None = Field(None, description="NAME, NAME@ALIAS or NAME/VERSION; default "
                                                "RECSTACK_NLU__DEFAULT_MODEL")

    @field_validator("text")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else _check_text(value)

    @field_validator("texts")
    @classmethod
    def _texts(cls, values: list[str] | None) -> list[str] | None:
        for i, value in enumerate(values or []):
            try:
                _check_text(value)
            except ValueError as exc:
                raise ValueError(f"texts[{i}]: {exc}") from None
        return values

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give either 'text' or 'texts'")
        return self


class EntityResponse(BaseModel):
    type: str
    text: str
    start: int
    end: int
    score: float


class ParseResult(BaseModel):
    text: str
    intent: str
    intent_score: float
    entities: list[EntityResponse]
    request_id: str = Field(description="send the corrected labels later with this id")


class ServedModel(BaseModel):
    name: str
    version: str
    alias: str | None
    model_type: str


class ParseResponse(BaseModel):
    model: ServedModel
    results: list[ParseResult]


@router.post("/parse", response_model=ParseResponse, responses=SHED_RESPONSE,
             dependencies=[Depends(limit_concurrency("nlu.parse", 8))])
def parse(request: ParseRequest, models: ModelsDep, logger: PredictionLoggerDep) -> ParseResponse:
    """Intent and entities (character spans) of each question; every parse is logged."""
    bundle, info, alias = models.get(request.model)
    texts = [request.text] if request.text is not None else list(request.texts or [])
    results = []
    for parsed in bundle.parse(texts):
        out: dict[str, Any] = parsed.to_dict()
        # ``prediction`` is the intent: monitoring's classification task reads it, so the
        # intent distribution is checked for drift like any model output.
        request_id = logger.log(
            info, header=len(texts) == 1,
            features={**monitored_features(parsed), "text": parsed.text},
            output={"prediction": parsed.intent, "intent_score": parsed.intent_score,
                    "entities": out["entities"]})
        results.append(ParseResult(**out, request_id=request_id))
    return ParseResponse(model=ServedModel(name=info.name, version=info.version, alias=alias,
                                           model_type=info.model_type), results=results)
