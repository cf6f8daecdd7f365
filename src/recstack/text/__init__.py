"""Korean text helpers shared by the systems that read Korean (NLU, conversational
recommender, place matching): normalisation with offsets, particle trimming, Hangul detection
and a kiwipiepy morpheme tokenizer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from recstack._lazy import lazy_exports

# ruff: noqa: F401 - these imports are the re-exports, for type checkers; ruff cannot read
# the __all__ that lazy_exports computes.
if TYPE_CHECKING:
    from recstack.text.korean import (
        PARTICLES,
        Normalized,
        fit_particle,
        has_hangul,
        normalize,
        normalize_with_offsets,
        strip_particle,
        trim_span,
    )
    from recstack.text.tokenizer import KoreanTokenizer, Morpheme

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "korean": ["PARTICLES", "Normalized", "fit_particle", "has_hangul", "normalize",
               "normalize_with_offsets", "strip_particle", "trim_span"],
    "tokenizer": ["KoreanTokenizer", "Morpheme"],
})
