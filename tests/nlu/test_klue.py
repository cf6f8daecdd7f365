"""The KLUE-NER loader on the real dev file and on small hand-written files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from recstack.errors import DataError
from recstack.nlu.klue import load_klue_ner, split_klue_ner


def _write(path: Path, sentences: list[tuple[str, str, list[str]]]) -> Path:
    lines = ["## 토큰, 레이블 구분자 : \\t", "## 컬럼명 : CHAR\tNE_TAG"]
    for sid, header, tags in sentences:
        plain = header
        for tag in ("PS", "LC", "OG", "DT", "TI", "QT"):
            plain = plain.replace(f":{tag}>", "")
        plain = plain.replace("<", "")
        lines.append(f"## {sid}\t{header}")
        lines += [f"{c}\t{t}" for c, t in zip(plain, tags, strict=True)]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_bio_tags_become_character_spans(tmp_path: Path) -> None:
    header = "<서울:LC>에서 <3일:DT> 묵었다"
    tags = ["B-LC", "I-LC", "O", "O", "O", "B-DT", "I-DT", "O", "O", "O", "O"]
    path = _write(tmp_path / "k.tsv", [("klue-ner-v1_dev_00000-x", header, tags),
                                       ("klue-ner-v1_dev_00001-x", "<박:PS>씨", ["I-PS", "O"])])
    (text, spans), (_text2, spans2) = load_klue_ner(path)
    assert text == "서울에서 3일 묵었다"
    assert [(s.type, s.text, s.start, s.end) for s in spans] == [
        ("LC", "서울", 0, 2), ("DT", "3일", 5, 7)]
    assert [(s.type, s.text) for s in spans2] == [("PS", "박")]  # I- without B- opens a span


def test_a_damaged_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "k.tsv", [("klue-ner-v1_dev_00000-x", "<서울:LC>", ["B-LC", "I-LC"])])
    path.write_text(path.read_text(encoding="utf-8").replace("울\tI-LC", "울"), encoding="utf-8")
    with pytest.raises(DataError, match="CHAR<TAB>TAG"):
        load_klue_ner(path)
    path = _write(tmp_path / "k.tsv", [("klue-ner-v1_dev_00000-x", "<서울:LC>", ["B-LC", "I-XX"])])
    with pytest.raises(DataError, match="unknown tag"):
        load_klue_ner(path)
    with pytest.raises(DataError, match="not found"):
        load_klue_ner(tmp_path / "missing.tsv")


def test_the_real_dev_file(shared_data: Path) -> None:
    sentences = load_klue_ner(shared_data / "klue-ner")
    assert len(sentences) == 5000
    counts = Counter(s.type for _, spans in sentences for s in spans)
    # The mention counts its README gives from the inline tags.
    assert counts == {"PS": 4418, "QT": 3151, "DT": 2312, "OG": 2182, "LC": 1649, "TI": 545}
    for text, spans in sentences:
        for span in spans:
            assert text[span.start:span.end] == span.text and span.text.strip()
    train, test = split_klue_ner(sentences)
    assert len(train) + len(test) == 5000
    assert 0.17 <= len(test) / 5000 <= 0.23
    assert not {t for t, _ in train} & {t for t, _ in test}
    # The same sentence lands on the same side whatever the order.
    _, test_reversed = split_klue_ner(sentences[::-1])
    assert {t for t, _ in test_reversed} == {t for t, _ in test}
