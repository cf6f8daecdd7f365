"""Fixtures of the NLU tests: the hand-written travel questions and a held-out split of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recstack.nlu.schema import Example

FIXTURE = Path(__file__).parent / "fixtures" / "travel_questions.jsonl"


def load_fixture() -> list[Example]:
    with FIXTURE.open(encoding="utf-8") as f:
        return [Example.from_dict(json.loads(line)) for line in f if line.strip()]


@pytest.fixture(scope="session")
def questions() -> list[Example]:
    """144 hand-written Korean travel questions, all nine intents and eight entity types."""
    return load_fixture()


@pytest.fixture(scope="session")
def split(questions: list[Example]) -> tuple[list[Example], list[Example]]:
    """(train, test): every third question of each intent is held out, in file order."""
    train, test, seen = [], [], {}
    for example in questions:
        k = seen[example.intent] = seen.get(example.intent, -1) + 1
        (test if k % 3 == 2 else train).append(example)
    return train, test


@pytest.fixture(scope="session")
def gazetteer(shared_data: Path) -> dict[str, list[str]]:
    """Countries and cities of the shared gazetteer (skips without the shared data)."""
    from recstack.nlu.rules import gazetteer_from_files

    return gazetteer_from_files(shared_data / "gazetteer")
