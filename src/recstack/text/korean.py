"""Korean text helpers: normalisation with an offset map, Hangul detection and particle (조사)
trimming of entity spans.

Spans must refer to the ORIGINAL text a user sent, so :func:`normalize_with_offsets` keeps, for
every character of the normalised text, the range of original characters it came from.

Particle trimming (``파타야에서`` → ``파타야``) uses Korean morphophonology rather than a
blind suffix cut: ``이/은/을/과/이랑/으로`` follow a syllable with a final consonant (받침),
``가/는/를/와/랑/로`` follow one without, so ``하와이`` keeps its ``이`` (``하와`` ends in a vowel)
while ``서울이`` loses it. Names that end in a syllable which is also a particle without such a
constraint (``제주도`` ends in ``도``) cannot be told apart by rule: pass them in ``known``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

_HANGUL_SYLLABLE = re.compile(r"[\uac00-\ud7a3]")
_HANGUL_ANY = re.compile(r"[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff]")

# Particle → which final syllable it may follow: "C" after a final consonant (받침),
# "V" after a vowel, "VL" after a vowel or ㄹ (로), "" after anything.
PARTICLES: dict[str, str] = {
    "에서": "", "에게서": "", "에게": "", "한테": "", "에": "", "의": "", "도": "", "만": "",
    "까지": "", "부터": "", "하고": "", "보다": "", "처럼": "", "께": "", "께서": "",
    "끼리": "",  # a suffix, not a case particle, but never part of the name (가족끼리 → 가족)
    "이": "C", "은": "C", "을": "C", "과": "C", "이랑": "C", "이나": "C", "이라도": "C",
    "으로": "C", "으로는": "C",
    "가": "V", "는": "V", "를": "V", "와": "V", "랑": "V", "나": "V", "라도": "V",
    "로": "VL", "로는": "VL",
}
# Longest first, so that 에서 wins over 서-less readings and 이랑 is tried before 랑.
_BY_LENGTH = sorted(PARTICLES, key=len, reverse=True)
_STACKING = frozenset({"도", "는", "은", "만", "까지", "부터"})
_STACKED_ON = ("에서", "에", "에게", "한테", "으로", "로", "까지", "부터")
_EDGE_JUNK = " \t\"'“”‘’«»()[]{}<>.,!?~·…:;"


def has_hangul(text: str) -> bool:
    """True when ``text`` holds at least one Hangul letter (syllable or jamo)."""
    return bool(_HANGUL_ANY.search(text))


def _final_consonant(syllable: str) -> int | None:
    """Index of the final consonant (0 = none, 8 = ㄹ) of a Hangul syllable, None otherwise."""
    if not _HANGUL_SYLLABLE.fullmatch(syllable):
        return None
    return (ord(syllable) - 0xAC00) % 28


def _fits(stem: str, particle: str) -> bool:
    """Whether ``particle`` may follow ``stem`` (the 받침 rule of its allomorph)."""
    rule = PARTICLES[particle]
    if not stem:
        return False
    if not rule:
        return True
    final = _final_consonant(stem[-1])
    if final is None:  # Latin letters or digits before a particle: trust the particle
        return True
    if rule == "C":
        return final != 0
    if rule == "V":
        return final == 0
    return final in (0, 8)  # "VL": 로 after a vowel or ㄹ


# Allomorph pairs: the form after a final consonant and the form after a vowel.
_ALLOMORPHS = (("이", "가"), ("은", "는"), ("을", "를"), ("과", "와"), ("이랑", "랑"),
               ("이나", "나"), ("으로", "로"), ("으로는", "로는"))


def fit_particle(stem: str, particle: str) -> str:
    """``particle``'s allomorph that may follow ``stem`` (``fit_particle("파리", "을")`` →
    ``"를"``); any other particle, or a stem not ending in Hangul, unchanged."""
    for consonant_form, vowel_form in _ALLOMORPHS:
        if particle in (consonant_form, vowel_form):
            final = _final_consonant(stem[-1]) if stem else None
            if final is None:
                return particle
            if consonant_form == "으로" or consonant_form == "으로는":
                return vowel_form if final in (0, 8) else consonant_form
            return consonant_form if final else vowel_form
    return particle


def _strip_one(text: str) -> list[str]:
    """Every stem left by removing one particle that fits, longest particle first."""
    return [text[: -len(p)] for p in _BY_LENGTH
            if text.endswith(p) and _fits(text[: -len(p)], p)]


def strip_particle(span_text: str, known: Collection[str] = ()) -> str:
    """``span_text`` without its trailing particles (``홋카이도로`` → ``홋카이도``).

    Args:
        span_text: the text of an entity span, possibly followed by particles.
        known: names that must stay whole (gazetteer entries: ``인터라켄``, ``제주도``). When
            the text or any stem of it is known, the longest known one wins.

    Returns:
        The stem. At most two particles are removed (``서울에서도`` → ``서울``); text that is
        itself known, or has no fitting particle, comes back unchanged (edges trimmed).
    """
    text = span_text.strip(_EDGE_JUNK)
    if text in known:
        return text
    first = _strip_one(text)
    candidates = first + [stem2 for stem in first for stem2 in _strip_one(stem)]
    if known:
        hits = [c for c in candidates if c in known]
        if hits:
            return max(hits, key=len)
    if not first:
        return text
    stem = first[0]
    # A second particle only after one that stacks on a case particle (서울에서+도, 부산으로+는).
    if text[len(stem):] in _STACKING:
        inner = [p for p in _STACKED_ON if stem.endswith(p) and _fits(stem[: -len(p)], p)]
        if inner:
            stem = stem[: -len(max(inner, key=len))]
    return stem


def trim_span(text: str, start: int, end: int, known: Collection[str] = ()) -> tuple[int, int]:
    """The ``[start, end)`` of the entity inside ``text[start:end]``, particles and edge
    punctuation removed (offsets stay in ``text``'s coordinates)."""
    piece = text[start:end]
    left = len(piece) - len(piece.lstrip(_EDGE_JUNK))
    stem = strip_particle(piece, known)
    new_start = start + left
    return new_start, new_start + len(stem)


@dataclass(frozen=True)
class Normalized:
    """A normalised text and, for each of its characters, the original characters it came
    from: ``original[starts[i]:ends[i]]``."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original ``[start, end)`` of the normalised ``text[start:end]`` (non-empty)."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"span [{start}, {end}) outside the normalised text "
                             f"of length {len(self.text)}")
        return self.starts[start], self.ends[end - 1]


def _clusters(text: str) -> list[tuple[int, int]]:
    """Ranges that NFKC may compose together: a character with its combining marks and
    Hangul medial/final jamo."""
    out: list[tuple[int, int]] = []
    for i, ch in enumerate(text):
        cp = ord(ch)
        joins = unicodedata.combining(ch) or 0x1160 <= cp <= 0x11FF or 0xD7B0 <= cp <= 0xD7FF
        if out and joins:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


def normalize_with_offsets(text: str) -> Normalized:
    """NFKC, control and format characters removed, whitespace runs collapsed to one space,
    ends stripped, with the map back to the original offsets."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for lo, hi in _clusters(text):
        for ch in unicodedata.normalize("NFKC", text[lo:hi]):
            if ch.isspace():
                if chars and chars[-1] == " ":
                    ends[-1] = hi
                    continue
                ch = " "
            elif unicodedata.category(ch) in ("Cc", "Cf"):
                continue
            chars.append(ch)
            starts.append(lo)
            ends.append(hi)
    while chars and chars[0] == " ":
        del chars[0], starts[0], ends[0]
    while chars and chars[-1] == " ":
        del chars[-1], starts[-1], ends[-1]
    return Normalized("".join(chars), tuple(starts), tuple(ends))


def normalize(text: str) -> str:
    """NFKC, control characters removed, whitespace collapsed and stripped
    (``"  제주도\\u200b  3박4일\\n"`` → ``"제주도 3박4일"``)."""
    return normalize_with_offsets(text).text
