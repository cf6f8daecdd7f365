"""``recstack nlu vocab-check``: what a tokenizer does with the domain's words (the seed's UNK
fix), and what kiwipiepy makes of them with and without a user dictionary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from recstack.errors import DataError
from recstack.settings import Settings


def domain_words(settings: Settings, path: Path | None) -> list[str]:
    """The words to check: one per line of ``path``, else every place name of the grammar
    (gazetteer countries and cities, the team's POIs)."""
    if path is not None:
        if not Path(path).is_file():
            raise DataError(f"no file at {path}", field="--words", fix="one word per line")
        words = [w.strip() for w in Path(path).read_text(encoding="utf-8").splitlines()]
        words = [w for w in words if w]
        if not words:
            raise DataError(f"{path} has no words", field="--words", fix="one word per line")
        return words
    from recstack.nlu.data import load_grammar

    return sorted(load_grammar(settings.shared_data_dir).place_names())


def _quiet_transformers() -> None:
    # Loading bars go to the terminal and would corrupt --json output.
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _tokenizer(settings: Settings, name: str) -> Any:
    from transformers import AutoTokenizer

    _quiet_transformers()
    if name == "e5":
        from recstack.encoders import ensure_e5

        return AutoTokenizer.from_pretrained(ensure_e5(settings), local_files_only=True)
    if not Path(name).is_dir():
        raise DataError(f"no tokenizer folder at {name}", field="--tokenizer",
                        fix="pass e5 or a folder saved with save_pretrained")
    return AutoTokenizer.from_pretrained(name, local_files_only=True)


def kiwi_whole_share(words: list[str]) -> tuple[float, float]:
    """Share of words kiwipiepy keeps as one morpheme, without and with a user dictionary
    built from the same words."""
    from recstack.text import KoreanTokenizer

    def whole(tokenizer: Any) -> float:
        kept = sum(len(tokenizer.tokenize(w)) == 1 for w in words)
        return kept / len(words) if words else 0.0

    return whole(KoreanTokenizer()), whole(KoreanTokenizer(user_words=words))


def run_vocab_check(settings: Settings, console: Console, *, words: Path | None,
                    tokenizer: str, add_to: Path | None, show: int = 20,
                    as_json: bool = False) -> dict[str, Any]:
    """Print (or return as JSON) the report; with ``add_to``, add the UNK words to that model
    folder's tokenizer, resize its embeddings and save both back."""
    from recstack.encoders import add_domain_words, vocab_report

    listed = domain_words(settings, words)
    loaded = _tokenizer(settings, str(add_to) if add_to is not None else tokenizer)
    report = vocab_report(loaded, listed)
    summary: dict[str, Any] = {"tokenizer": str(add_to or tokenizer), **report.to_dict()}
    summary.pop("words")
    without, with_dict = kiwi_whole_share(listed)
    summary["kiwi_whole_share"] = {"without_user_dict": without, "with_user_dict": with_dict}
    if add_to is not None:
        from transformers import AutoModel

        model = AutoModel.from_pretrained(add_to, local_files_only=True)
        summary["added"] = add_domain_words(model, loaded, listed)
        summary["unk_rate_after"] = vocab_report(loaded, listed).unk_rate
        model.save_pretrained(add_to)
        loaded.save_pretrained(add_to)
    if as_json:
        console.print_json(json.dumps(summary, ensure_ascii=False))
        return summary
    table = Table(title=f"{len(listed):,} words through {summary['tokenizer']}: UNK in "
                        f"{report.unk_rate:.2%} of words, {report.mean_pieces:.2f} pieces/word")
    for column in ("word", "pieces", "UNK"):
        table.add_column(column)
    shown = sorted(report.words, key=lambda w: (-w.n_unk, -len(w.pieces)))[:show]
    for split in shown:
        table.add_row(split.word, " ".join(split.pieces), str(split.n_unk))
    console.print(table)
    console.print(f"kiwipiepy keeps {without:.1%} of the words as one morpheme; with a user "
                  f"dictionary of them, {with_dict:.1%}")
    if add_to is not None:
        console.print(f"added {summary['added']} tokens to {add_to}; UNK rate now "
                      f"{summary['unk_rate_after']:.2%}")
    return summary
