"""Domain vocabulary check: how a tokenizer splits the catalogue's words, and the seed's UNK fix.

The seed team found its Korean encoder's tokenizer turning '홋카이도', '스케쥴', '하얏트' into
``[UNK]``: the model then sees the same vector for every unknown place, and no fine-tuning can
tell 홋카이도 from 하얏트. :func:`vocab_report` measures it for any ``transformers`` tokenizer and
word list (the gazetteer, the POI catalogue); :func:`add_domain_words` adds the words that yield
UNK (optionally also those shattered into many pieces) as whole tokens and grows the model's
embedding matrix to match. A SentencePiece tokenizer such as e5's has no UNK on Hangul; a
WordPiece one trained on English (all-MiniLM-L6-v2) has plenty.

Neither torch nor transformers is imported here: the tokenizer and model are used through their
methods (``tokenize``, ``add_tokens``, ``resize_token_embeddings``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from recstack.errors import ConfigError


@dataclass(frozen=True)
class WordSplit:
    """How one word tokenizes: its ``pieces`` and how many of them are the UNK token."""

    word: str
    pieces: tuple[str, ...]
    n_unk: int


@dataclass(frozen=True)
class VocabReport:
    """What a tokenizer does with a word list.

    Attributes:
        unk_token: the tokenizer's unknown token (None if it has none).
        words: one :class:`WordSplit` per distinct word, in input order.
    """

    unk_token: str | None
    words: tuple[WordSplit, ...] = field(default_factory=tuple)

    @property
    def unk_words(self) -> list[str]:
        """Words with at least one UNK piece."""
        return [w.word for w in self.words if w.n_unk]

    @property
    def unk_rate(self) -> float:
        """Share of words with at least one UNK piece (0 for an empty list)."""
        return len(self.unk_words) / len(self.words) if self.words else 0.0

    @property
    def token_unk_rate(self) -> float:
        """Share of all pieces that are UNK."""
        total = sum(len(w.pieces) for w in self.words)
        return sum(w.n_unk for w in self.words) / total if total else 0.0

    @property
    def mean_pieces(self) -> float:
        """Mean pieces per word: high values mean words shattered into fragments."""
        return sum(len(w.pieces) for w in self.words) / len(self.words) if self.words else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for the CLI's ``vocab-check``)."""
        return {"unk_token": self.unk_token, "n_words": len(self.words),
                "unk_rate": self.unk_rate, "token_unk_rate": self.token_unk_rate,
                "mean_pieces": self.mean_pieces, "unk_words": self.unk_words,
                "words": [{"word": w.word, "pieces": list(w.pieces), "n_unk": w.n_unk}
                          for w in self.words]}


def _distinct(words: Iterable[str]) -> list[str]:
    """Stripped, non-empty, first occurrence kept."""
    return list(dict.fromkeys(w.strip() for w in words if w and w.strip()))


def vocab_report(tokenizer: Any, words: Iterable[str]) -> VocabReport:
    """Tokenize each word alone and count its UNK pieces.

    Args:
        tokenizer: a ``transformers`` tokenizer (``tokenize`` and ``unk_token``).
        words: the domain words; blanks are skipped and duplicates counted once.
    """
    unk = getattr(tokenizer, "unk_token", None)
    splits = []
    for word in _distinct(words):
        pieces = tuple(tokenizer.tokenize(word))
        splits.append(WordSplit(word, pieces, sum(piece == unk for piece in pieces)))
    return VocabReport(unk, tuple(splits))


def add_domain_words(model: Any, tokenizer: Any, words: Iterable[str], *,
                     max_pieces: int | None = None) -> int:
    """Add the words that yield UNK as whole tokens and resize the model's embeddings.

    Each new embedding row starts as the mean of the rows of the word's known pieces (so the
    model begins from what it knew of the word's fragments), or keeps ``transformers``'
    initialisation where every piece was UNK.

    Args:
        model: a ``transformers`` model (``resize_token_embeddings``,
            ``get_input_embeddings``); changed in place.
        tokenizer: its tokenizer; changed in place.
        words: the domain words.
        max_pieces: also add words that split into more than this many pieces (jamo soup is
            no better than UNK); None adds only the UNK words.

    Returns:
        The number of tokens added (the embedding matrix grew by that many rows).

    Raises:
        ConfigError: ``max_pieces`` is below 1.
    """
    if max_pieces is not None and max_pieces < 1:
        raise ConfigError(f"must be at least 1, got {max_pieces}", field="max_pieces",
                          fix="pass None to add only the words that yield UNK")
    report = vocab_report(tokenizer, words)
    chosen = [w for w in report.words
              if w.n_unk or (max_pieces is not None and len(w.pieces) > max_pieces)]
    old_size = len(tokenizer)
    added = tokenizer.add_tokens([w.word for w in chosen])
    if not added:
        return 0
    model.resize_token_embeddings(len(tokenizer))
    weight = model.get_input_embeddings().weight.data  # (V + added, H); .data: no autograd
    for split in chosen:
        known = [i for i in tokenizer.convert_tokens_to_ids(list(split.pieces))
                 if i != tokenizer.unk_token_id]
        # Encode rather than look the word up: a tokenizer may store an added token normalised
        # (BERT's lower-casing decomposes Hangul into jamo).
        new_ids = tokenizer(split.word, add_special_tokens=False)["input_ids"]
        if known and len(new_ids) == 1 and new_ids[0] >= old_size:  # only rows added now
            weight[new_ids[0]] = weight[known].mean(0)
    return int(added)
