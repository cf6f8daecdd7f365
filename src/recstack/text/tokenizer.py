"""A thin wrapper over kiwipiepy's Korean morphological analyser: morphemes with character
offsets into the input, and a user dictionary built from word lists (gazetteer, catalogue).

kiwipiepy is an optional dependency, imported when the first text is analysed; the analyser
loads its model then (about a second), and user words added before that are applied to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from recstack.errors import ConfigError


@dataclass(frozen=True)
class Morpheme:
    """One morpheme: its surface ``form``, Sejong ``tag`` (NNP, JKB, …) and ``text[start:end]``.

    ``form`` may differ from the characters it covers (``했`` → ``하`` + ``었``).
    """

    form: str
    tag: str
    start: int
    end: int


class KoreanTokenizer:
    """Morphemes with offsets, created lazily.

    Args:
        user_words: words the analyser must keep whole (``홋카이도``, ``하얏트``), added as
            proper nouns (``NNP``).
        num_workers: kiwipiepy threads (0 = its default); 1 keeps a shared machine quiet.
    """

    def __init__(self, user_words: Iterable[str] = (), *, num_workers: int = 1):
        self.num_workers = num_workers
        self._pending: list[tuple[str, str, float]] = [(w, "NNP", 0.0) for w in user_words]
        self._kiwi: Any = None

    def add_user_word(self, word: str, tag: str = "NNP", score: float = 0.0) -> None:
        """Adds ``word`` with part-of-speech ``tag`` to the user dictionary."""
        if not word.strip():
            raise ConfigError("a user word must not be empty", field="word",
                              fix="pass a non-blank word")
        if self._kiwi is None:
            self._pending.append((word, tag, score))
        else:
            self._kiwi.add_user_word(word, tag, score)

    @property
    def kiwi(self) -> Any:
        """The underlying ``kiwipiepy.Kiwi`` (built on first use)."""
        if self._kiwi is None:
            try:
                from kiwipiepy import Kiwi
            except ModuleNotFoundError as exc:
                raise ConfigError("Korean tokenisation needs kiwipiepy, which is not installed",
                                  field="extra 'nlu'",
                                  fix="pip install kiwipiepy kiwipiepy-model") from exc
            kiwi = Kiwi(num_workers=self.num_workers)
            for word, tag, score in self._pending:
                kiwi.add_user_word(word, tag, score)
            self._pending.clear()
            self._kiwi = kiwi
        return self._kiwi

    def tokenize(self, text: str) -> list[Morpheme]:
        """The morphemes of ``text``, offsets into ``text``."""
        return [Morpheme(t.form, str(t.tag), t.start, t.start + t.len)
                for t in self.kiwi.tokenize(text)]

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[Morpheme]]:
        """:meth:`tokenize` for many texts (kiwipiepy analyses them in one call)."""
        return [[Morpheme(t.form, str(t.tag), t.start, t.start + t.len) for t in tokens]
                for tokens in self.kiwi.tokenize(list(texts))]
