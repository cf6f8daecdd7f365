"""Labelled Korean travel questions generated from the team's template grammar, and splits
that evaluation can trust.

``generate`` fills a template's slots with fillers and records each filler's character span
(the particle after a slot is not part of it: ``{CITY}에서`` → ``파타야에서`` with the span on
``파타야``). ``make_splits`` holds out whole templates **and** place names: the test set's
questions come from templates and name countries, cities and POIs that training never saw,
so a model cannot pass by memorising either. docs/nlu.md describes the grammar.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recstack.errors import ConfigError
from recstack.nlu._grammar import (
    ALTERNATIVES,
    PLACE_TYPES,
    SLOT,
    Grammar,
    Template,
    load_grammar,
    load_templates,
    place_groups,
)
from recstack.nlu.schema import INTENTS, Example, Span

__all__ = ["OTHER_SHARE", "PLACE_TYPES", "Grammar", "NLUSplits", "Template", "fill", "generate",
           "load_grammar", "load_templates", "make_splits", "read_examples", "split_grammar",
           "write_dataset", "write_examples"]

# Share of non-travel questions: enough for the model to learn to say "other".
OTHER_SHARE = 0.10
# Particle pairs written "consonant form/vowel form" after a slot (either order).
_PAIRS = {frozenset(p) for p in (("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"))}
_CONSONANT_FORMS = {"은", "이", "을", "과"}
# Days named relative to today take no 에: "내일 다낭 날씨", "오늘도", never "내일에 다낭".
_NO_E_DATES = frozenset({"오늘", "내일", "모레"})
_E = re.compile(r"에(?=$|[\s?!.,]|도)")


def _final(text: str) -> int | None:
    """The final consonant index of ``text``'s last syllable (0 = none, 8 = ㄹ); None for a
    non-Hangul ending, which :func:`_attach` treats as consonant-final (``타이베이 101이``)."""
    ch = text[-1] if text else ""
    if "가" <= ch <= "힣":
        return (ord(ch) - 0xAC00) % 28
    return None


def _attach(filler: str, rest: str) -> str:
    """``rest`` (the literal after a slot) with a leading particle written for both
    allomorphs resolved for ``filler``; a ``에`` after ``오늘``, ``내일``, ``모레`` is dropped."""
    if filler in _NO_E_DATES and _E.match(rest):
        return rest[1:]
    final = _final(filler)
    consonant = final != 0
    if len(rest) >= 3 and rest[1] == "/" and frozenset((rest[0], rest[2])) in _PAIRS:
        pick = next(p for p in (rest[0], rest[2]) if (p in _CONSONANT_FORMS) == consonant)
        return pick + rest[3:]
    if rest.startswith("(으)"):
        return ("으" if consonant and final != 8 else "") + rest[3:]
    if rest.startswith("(이)"):
        return ("이" if consonant else "") + rest[3:]
    return rest


def _choose_fillers(template: Template, fillers: Mapping[str, Sequence[str]],
                    country_of: Mapping[str, str], rng: random.Random) -> dict[str, str]:
    """A filler for every slot key; repeated types get distinct values; a country beside a
    city is the city's own country when the split has it."""
    chosen: dict[str, str] = {}
    # Cities first so that {COUNTRY} can follow its city.
    for key in sorted(dict.fromkeys(template.slots), key=lambda k: not k.startswith("CITY")):
        pool_key = key.split("#")[0]
        pool = fillers.get(pool_key) or ()
        if key == "CITY" and "COUNTRY" in template.slots:
            # Prefer a city whose country this split can name too (태국 파타야, not 케냐 파타야).
            countries = set(fillers.get("COUNTRY") or ())
            pool = [c for c in pool if country_of.get(c) in countries] or pool
        if not pool:
            raise ConfigError(f"no fillers for slot {{{pool_key}}} (template {template.id})",
                              field="fillers", fix="give every slot type at least one filler")
        taken = set(chosen.values())
        home = country_of.get(chosen.get("CITY", ""))
        if pool_key == "COUNTRY" and home in pool and home not in taken:
            chosen[key] = home  # type: ignore[assignment]
            continue
        value = rng.choice(pool)
        for _ in range(10):
            if value not in taken:
                break
            value = rng.choice(pool)
        chosen[key] = value
    return chosen


def fill(template: Template, fillers: Mapping[str, Sequence[str]], rng: random.Random, *,
         country_of: Mapping[str, str] | None = None, spacing_noise: float = 0.0) -> Example:
    """One example from ``template``: alternatives picked, slots filled, spans recorded.

    Args:
        template: the template.
        fillers: slot list (``CITY``, ``POI/hotel``) → values.
        rng: the random source (the caller's, for determinism).
        country_of: city → country, to pair ``{COUNTRY} {CITY}``.
        spacing_noise: probability that the example's literal spaces are dropped at random
            (users write ``파타야패키지``); filler text is never changed.
    """
    text = ALTERNATIVES.sub(lambda m: rng.choice(m.group(1).split("|")), template.text)
    chosen = _choose_fillers(template, fillers, country_of or {}, rng)
    squash = rng.random() < spacing_noise
    out: list[str] = []
    length = 0
    spans: list[Span] = []
    cursor = 0
    previous: str | None = None
    for match in SLOT.finditer(text):
        literal = text[cursor:match.start()]
        if previous is not None:
            literal = _attach(previous, literal)
        if squash:
            literal = "".join(c for c in literal if c != " " or rng.random() < 0.5)
        out.append(literal)
        length += len(literal)
        key = "".join(match.groups())
        value = chosen[key]
        spans.append(Span(match.group(1), length, length + len(value), value))
        out.append(value)
        length += len(value)
        previous = value
        cursor = match.end()
    tail = text[cursor:]
    if previous is not None:
        tail = _attach(previous, tail)
    if squash:
        tail = "".join(c for c in tail if c != " " or rng.random() < 0.5)
    out.append(tail)
    return Example(text="".join(out), intent=template.intent, entities=spans,
                   template=template.id, fillers=chosen)


def generate(n: int, *, seed: int, templates: Sequence[Template] | None = None,
             fillers: Mapping[str, Sequence[str]] | None = None,
             country_of: Mapping[str, str] | None = None,
             spacing_noise: float = 0.1, shared_dir: Path | None = None) -> list[Example]:
    """``n`` labelled questions, ~10% of them ``other`` and the rest spread evenly over the
    travel intents (intents without templates are skipped).

    Args:
        n: how many examples.
        seed: the random seed; the same seed gives the same examples.
        templates: the templates; default the whole grammar.
        fillers: slot fillers; default the whole grammar's.
        country_of: city → country; default the grammar's.
        spacing_noise: see :func:`fill`.
        shared_dir: the shared data folder for the default grammar.
    """
    if templates is None or fillers is None:
        grammar = load_grammar(shared_dir)
        templates = grammar.templates if templates is None else templates
        fillers = grammar.fillers if fillers is None else fillers
        country_of = grammar.country_of if country_of is None else country_of
    by_intent: dict[str, list[Template]] = {}
    for template in templates:
        by_intent.setdefault(template.intent, []).append(template)
    intents = [i for i in INTENTS if i in by_intent]
    if not intents:
        raise ConfigError("no templates to generate from", field="templates",
                          fix="pass at least one template")
    travel = [i for i in intents if i != "other"]
    weights = [OTHER_SHARE if i == "other" else (1 - OTHER_SHARE) / max(1, len(travel))
               for i in intents] if travel else [1.0]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        intent = rng.choices(intents, weights)[0]
        out.append(fill(rng.choice(by_intent[intent]), fillers, rng, country_of=country_of,
                        spacing_noise=spacing_noise))
    return out


@dataclass
class NLUSplits:
    """Train, validation and test examples, and the grammar each was drawn from."""

    train: list[Example]
    valid: list[Example]
    test: list[Example]
    grammars: dict[str, Grammar] = field(default_factory=dict)

    def items(self) -> list[tuple[str, list[Example]]]:
        return [("train", self.train), ("valid", self.valid), ("test", self.test)]


def split_grammar(grammar: Grammar, seed: int, *, valid: float = 0.15, test: float = 0.15
                  ) -> dict[str, Grammar]:
    """The grammar cut three ways: templates by id within each intent (every part with
    templates for every entity type when possible), place names by place group within each
    place list (so every list has names in every part).

    Returns:
        ``{"train": ..., "valid": ..., "test": ...}``; the parts share no template and no
        place name. Non-place fillers (dates, budgets…) are shared: held-out *places* are
        the test of generalisation the issue asks for.
    """
    rng = random.Random(seed)

    def cut(items: list) -> dict[str, list]:
        items = list(items)
        rng.shuffle(items)
        k = len(items)
        n_test = max(1, round(k * test)) if k >= 3 else 0
        n_valid = max(1, round(k * valid)) if k >= 3 else 0
        return {"test": items[:n_test], "valid": items[n_test:n_test + n_valid],
                "train": items[n_test + n_valid:]}

    types_of = {t.id: {slot.split("/")[0].split("#")[0] for slot in t.slots}
                for t in grammar.templates}
    wanted = set().union(*types_of.values())
    # Re-draw (deterministically) until every part has templates for every entity type, so
    # that each type is evaluated; a few draws suffice with the shipped grammar.
    for _ in range(200):
        template_ids: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
        for intent in INTENTS:
            ids = [t.id for t in grammar.templates if t.intent == intent]
            for part, chosen in cut(ids).items():
                template_ids[part] += chosen
        if all(set().union(*(types_of[i] for i in ids)) == wanted
               for ids in template_ids.values()):
            break
    groups = place_groups(grammar)
    group_of = {name: i for i, group in enumerate(groups) for name in group}
    assigned: dict[int, str] = {}
    place_keys = [k for k in grammar.fillers if k.split("/")[0] in PLACE_TYPES]
    # Small lists first, so that each gets names in every part before big lists take theirs.
    for key in sorted(place_keys, key=lambda k: (len(grammar.fillers[k]), k)):
        free = sorted({group_of[v] for v in grammar.fillers[key]} - assigned.keys())
        for part, chosen in cut(free).items():
            assigned.update(dict.fromkeys(chosen, part))
    places: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for gid, part in assigned.items():
        places[part] += groups[gid]
    return {part: grammar.restrict(template_ids[part], places[part]) for part in places}


def make_splits(seed: int = 0, *, sizes: tuple[int, int, int] = (6000, 1000, 1500),
                grammar: Grammar | None = None, shared_dir: Path | None = None) -> NLUSplits:
    """Train/valid/test examples from disjoint templates and place names.

    Args:
        seed: decides the template and place split and the examples.
        sizes: examples in train, valid and test.
        grammar: the grammar to split; default :func:`load_grammar`.
        shared_dir: the shared data folder for the default grammar.
    """
    grammar = grammar or load_grammar(shared_dir)
    parts = split_grammar(grammar, seed)
    examples = {part: generate(size, seed=seed * 1000 + i, templates=parts[part].templates,
                               fillers=parts[part].fillers, country_of=grammar.country_of)
                for i, (part, size) in enumerate(zip(("train", "valid", "test"), sizes,
                                                     strict=True))}
    return NLUSplits(examples["train"], examples["valid"], examples["test"], parts)


def write_examples(examples: Sequence[Example], path: Path) -> Path:
    """``examples`` as JSON lines (``Example.to_dict``), UTF-8, Hangul unescaped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for example in examples:
            f.write(json.dumps(example.to_dict(), ensure_ascii=False) + "\n")
    return path


def read_examples(path: Path) -> list[Example]:
    """The examples of a JSON-lines file written by :func:`write_examples`."""
    with Path(path).open(encoding="utf-8") as f:
        return [Example.from_dict(json.loads(line)) for line in f if line.strip()]


def write_dataset(folder: Path, seed: int = 0, *,
                  sizes: tuple[int, int, int] = (6000, 1000, 1500),
                  shared_dir: Path | None = None) -> dict[str, Path]:
    """Generates :func:`make_splits` and writes ``train.jsonl``, ``valid.jsonl``,
    ``test.jsonl`` and ``split.json`` (which templates and places each part holds).

    Returns:
        Part name → file written.
    """
    folder = Path(folder)
    splits = make_splits(seed, sizes=sizes, shared_dir=shared_dir)
    written = {part: write_examples(examples, folder / f"{part}.jsonl")
               for part, examples in splits.items()}
    manifest = {part: {"templates": [t.id for t in g.templates],
                       "places": {k: list(v) for k, v in g.fillers.items()
                                  if k.split("/")[0] in PLACE_TYPES}}
                for part, g in splits.grammars.items()}
    manifest_path = folder / "split.json"
    manifest_path.write_text(json.dumps({"seed": seed, "sizes": list(sizes), **manifest},
                                        ensure_ascii=False, indent=1), encoding="utf-8")
    written["split"] = manifest_path
    return written
