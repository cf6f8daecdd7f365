"""The travel NLU's label schema and data types: intents, entity types, examples, parses.

Entities are character spans ``[start, end)`` over the original text: the shortest text that
names the thing, without particles (``파타야에서`` → ``파타야``). docs/nlu.md lists examples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, Self

INTENTS: tuple[str, ...] = (
    "product_recommendation",  # package / tour products
    "itinerary_planning",
    "destination_recommendation",
    "weather",
    "visa_entry",
    "flight",
    "hotel",
    "restaurant",
    "other",  # anything outside travel
)
ENTITY_TYPES: tuple[str, ...] = (
    "COUNTRY", "CITY", "POI", "DATE", "DURATION", "PEOPLE", "COMPANION", "BUDGET")


@dataclass(frozen=True)
class Span:
    """One entity: its type and the characters ``text[start:end]``."""

    type: str
    start: int
    end: int
    text: str
    score: float = 1.0


@dataclass
class Example:
    """A labelled question. ``template`` and ``fillers`` say where a generated example came
    from, so that evaluation can hold out whole templates and place names."""

    text: str
    intent: str
    entities: list[Span] = field(default_factory=list)
    template: str | None = None
    fillers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        spans = [Span(**s) for s in data.get("entities", [])]
        return cls(text=data["text"], intent=data["intent"], entities=spans,
                   template=data.get("template"), fillers=dict(data.get("fillers") or {}))


@dataclass
class Parse:
    """What the NLU returns for one text (the JSON line of ``recstack nlu parse``)."""

    text: str
    intent: str
    intent_score: float
    entities: list[Span]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "intent": self.intent, "intent_score": self.intent_score,
                "entities": [{"type": s.type, "text": s.text, "start": s.start, "end": s.end,
                              "score": s.score} for s in self.entities]}


class NLUModel(Protocol):
    """Every NLU model (rules, CRF, fine-tuned encoder): scikit-learn habits, batched parse."""

    def fit(self, examples: list[Example], valid: list[Example] | None = None) -> Self: ...

    def parse(self, texts: list[str]) -> list[Parse]: ...

    def save(self, directory: Any) -> None: ...
