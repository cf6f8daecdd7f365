"""KLUE-NER v1.1 (Park et al., 2021): general Korean entities (PS, LC, OG, DT, TI, QT) as
character spans, and a deterministic held-out split of its dev file.

Only the dev file (5,000 sentences) is available (shared/data/klue-ner/README.md), so the
NLU trains on one part of it and reports entity F1 on the other; KLUE's published numbers are
on the whole dev set, which this split's test part is a sample of.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from recstack.errors import DataError
from recstack.nlu.schema import Span

__all__ = ["KLUE_DEV_FILE", "KLUE_TYPES", "KlueSentence", "load_klue_ner", "split_klue_ner"]

KLUE_TYPES: tuple[str, ...] = ("PS", "LC", "OG", "DT", "TI", "QT")
KLUE_DEV_FILE = "klue-ner-v1.1_dev.tsv"
# A sentence's header; other "##" lines are comments (one, "## 컬럼명 : CHAR\tNE_TAG", has a tab).
_HEADER = re.compile(r"## \S+\t")
_INLINE_TAG = re.compile(r"<([^<>]*?):(PS|LC|OG|DT|TI|QT)>")

KlueSentence = tuple[str, list[Span]]


def _bio_to_spans(text: str, tags: Sequence[str], where: str) -> list[Span]:
    """Character BIO tags → spans; an ``I-`` without its ``B-`` starts a span (lenient, as
    seqeval is)."""
    spans: list[Span] = []
    start: int | None = None
    kind = ""
    for i, tag in enumerate([*tags, "O"]):
        if tag != "O" and not re.fullmatch(r"[BI]-(PS|LC|OG|DT|TI|QT)", tag):
            raise DataError(f"unknown tag {tag!r} at character {i}", field=where,
                            fix=f"tags are O, B-X or I-X with X in {KLUE_TYPES}")
        continues = tag.startswith("I-") and tag[2:] == kind and start is not None
        if start is not None and not continues:
            spans.append(Span(kind, start, i, text[start:i]))
            start = None
        if tag != "O" and not continues:
            start, kind = i, tag[2:]
    return spans


def load_klue_ner(path: Path | str) -> list[KlueSentence]:
    """The sentences of a KLUE-NER TSV file as ``(text, spans)``.

    Args:
        path: the ``.tsv`` file, or the folder that holds ``klue-ner-v1.1_dev.tsv``.

    Returns:
        One ``(text, spans)`` per sentence, in file order; span types are KLUE's
        (:data:`KLUE_TYPES`).

    Raises:
        DataError: the file is missing, a line is malformed, or a sentence's characters do
            not spell the sentence in its ``##`` header line.
    """
    path = Path(path)
    if path.is_dir():
        path = path / KLUE_DEV_FILE
    if not path.is_file():
        raise DataError(f"{path} not found", field="path",
                        fix="pass shared/data/klue-ner or its klue-ner-v1.1_dev.tsv")
    sentences: list[KlueSentence] = []
    header: str | None = None
    chars: list[str] = []
    tags: list[str] = []
    line_no = 0

    def close(line_no: int) -> None:
        nonlocal header
        if header is None and not chars:
            return
        text = "".join(chars)
        where = f"{path.name}:{line_no}"
        if header is not None and _INLINE_TAG.sub(r"\1", header) != text:
            raise DataError("the characters do not spell the sentence of the header line",
                            field=where, fix="restore the original KLUE-NER file")
        sentences.append((text, _bio_to_spans(text, tags, where)))
        header = None
        chars.clear()
        tags.clear()

    with path.open(encoding="utf-8") as f:
        for line_no, raw in enumerate(f, start=1):
            line = raw.rstrip("\r\n")
            if line.startswith("##"):
                if _HEADER.match(line):  # "## <id>\t<sentence with inline tags>"
                    close(line_no)
                    header = line.split("\t", 1)[1]
                continue
            if not line:
                close(line_no)
                continue
            char, sep, tag = line.rpartition("\t")
            if not sep or len(char) != 1:
                raise DataError(f"expected 'CHAR<TAB>TAG', got {line!r}",
                                field=f"{path.name}:{line_no}",
                                fix="restore the original KLUE-NER file")
            chars.append(char)
            tags.append(tag)
        close(line_no + 1)
    return sentences


def split_klue_ner(sentences: Sequence[KlueSentence], *, test_fraction: float = 0.2
                   ) -> tuple[list[KlueSentence], list[KlueSentence]]:
    """A deterministic train/test split by a hash of each sentence's text: the same sentence
    always lands on the same side, whatever the order or the other sentences.

    Returns:
        ``(train, test)``, each in input order.
    """
    if not 0 < test_fraction < 1:
        raise DataError(f"test_fraction must be in (0, 1), got {test_fraction}",
                        field="test_fraction", fix="pass e.g. 0.2")
    train: list[KlueSentence] = []
    test: list[KlueSentence] = []
    for sentence in sentences:
        digest = hashlib.sha1(sentence[0].encode("utf-8")).digest()
        bucket = int.from_bytes(digest[:8], "big") / 2**64
        (test if bucket < test_fraction else train).append(sentence)
    return train, test
