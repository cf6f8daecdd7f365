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
    """How one word tokenizes: its ``pieces`` (an unknown one shown as the UNK token), their
    ``ids``, and how many of them are UNK."""

    word: str
    pieces: tuple[str, ...]
    ids: tuple[int, ...]
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
    unk_id = getattr(tokenizer, "unk_token_id", None)
    splits = []
    for word in _distinct(words):
        # Ids, not tokenize(): a Unigram tokenizer's tokenize() shows an unknown character as
        # itself ('튈'), only its id says it is UNK.
        ids = tuple(tokenizer(word, add_special_tokens=False)["input_ids"])
        pieces = tuple(tokenizer.convert_ids_to_tokens(list(ids)))
        splits.append(WordSplit(word, pieces, ids, sum(i == unk_id for i in ids)))
    return VocabReport(getattr(tokenizer, "unk_token", None), tuple(splits))


def add_domain_words(model: Any, tokenizer: Any, words: Iterable[str], *,
                     max_pieces: int | None = None, unit: str = "word") -> int:
    """Add the words that yield UNK as tokens and resize the model's embeddings to match.

    Each new embedding row starts as the mean of the rows of the word's known pieces (the model
    begins from what it knew of the fragments), or as the mean row where every piece was UNK.

    Args:
        model: a ``transformers`` model (``resize_token_embeddings``,
            ``get_input_embeddings``); changed in place.
        tokenizer: its tokenizer; changed in place.
        words: the domain words.
        max_pieces: also add words that split into more than this many pieces (jamo soup is
            no better than UNK); None adds only the UNK words. Only with ``unit="word"``.
        unit: ``"word"`` adds each UNK word whole (the seed's fix); ``"char"`` adds only the
            characters the tokenizer does not know (e5 knows 푸 but not 껫 of 푸껫), which also
            fixes names never seen in ``words``.

    Returns:
        The number of tokens added. The embedding matrix grows by as many rows, less the spare
        rows a model may already have beyond its tokenizer (multilingual-e5-small has 35).

    Raises:
        ConfigError: ``max_pieces`` is below 1, or ``unit`` is neither "word" nor "char".
    """
    if max_pieces is not None and max_pieces < 1:
        raise ConfigError(f"must be at least 1, got {max_pieces}", field="max_pieces",
                          fix="pass None to add only the words that yield UNK")
    if unit not in ("word", "char"):
        raise ConfigError(f"unknown unit {unit!r}", field="unit", fix='use "word" or "char"')
    report = vocab_report(tokenizer, words)
    if unit == "char":
        chars = [c for w in report.words if w.n_unk for c in w.word if not c.isspace()]
        chosen = [w for w in vocab_report(tokenizer, chars).words if w.n_unk]
    else:
        chosen = [w for w in report.words
                  if w.n_unk or (max_pieces is not None and len(w.pieces) > max_pieces)]
    old_size = len(tokenizer)
    added = tokenizer.add_tokens([w.word for w in chosen])
    if not added:
        return 0
    rows = model.get_input_embeddings().weight.shape[0]
    # Never shrink: e5's matrix has spare rows past its tokenizer; every new row is set below,
    # so transformers' own (random) initialisation of new rows is not needed.
    model.resize_token_embeddings(max(len(tokenizer), rows), mean_resizing=False)
    weight = model.get_input_embeddings().weight.data  # (V', H); .data: no autograd
    mean_row = weight[:old_size].mean(0)
    for split in chosen:
        # Encode rather than look the word up: a tokenizer may store an added token normalised
        # (BERT's lower-casing decomposes Hangul into jamo).
        new_ids = tokenizer(split.word, add_special_tokens=False)["input_ids"]
        if len(new_ids) != 1 or new_ids[0] < old_size:
            continue  # not one of the tokens added now
        known = [i for i in split.ids if i != tokenizer.unk_token_id]
        weight[new_ids[0]] = weight[known].mean(0) if known else mean_row
    return int(added)
