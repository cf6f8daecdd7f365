"""A fitted joint encoder as an ONNX folder that :mod:`recstack.nlu.onnx_runtime` serves without
torch.

:func:`export_onnx` writes ``model.onnx`` (inputs ``input_ids``, ``attention_mask``, ``hints``:
int64 ``(batch, tokens)``; outputs ``intent_logits`` ``(batch, intents)`` and ``token_logits``
``(batch, tokens, labels)``, both axes dynamic), optionally quantised to int8 with ONNX
Runtime's dynamic quantisation, beside everything the torch-free
:class:`~recstack.nlu.tagging.JointCodec` needs: the fast tokenizer's files and ``joint.json``
(config, labels, intents, gazetteer) as :meth:`JointEncoderNLU.save` writes it, plus
``onnx.json`` (what was exported, how, and the largest logit difference from torch on the
sample texts).

Imports torch (import-linter allows ``recstack.nlu.export -> torch``); only training and
registering a model call it, never a service.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from recstack.errors import DataError, NotFoundError
from recstack.nlu.schema import INTENTS
from recstack.nlu.tagging import LABELS, collate

__all__ = ["MODEL_FILE", "ONNX_META_FILE", "QUANTIZED_OPS", "SAMPLE_TEXTS", "export_onnx"]

MODEL_FILE = "model.onnx"
ONNX_META_FILE = "onnx.json"
CONFIG_FILE = "joint.json"
OPSET = 17  # LayerNormalization is a single op from 17 on; ORT >= 1.14 runs it
INPUTS = ("input_ids", "attention_mask", "hints")
OUTPUTS = ("intent_logits", "token_logits")
# What int8 covers, measured on joint-e5's 1,000 validation questions (model-full2, one thread,
# batches of 64, the per-tensor rows 32; "agree": share of token tags equal to ONNX fp32's):
#   fp32                                intent 0.910  entity F1 0.837  470 MB
#   MatMul, per tensor                  intent 0.892  entity F1 0.817  407 MB
#   MatMul+Gather, per tensor           intent 0.889  entity F1 0.819  118 MB
#   MatMul, per channel                 intent 0.915  entity F1 0.836  407 MB  agree 0.987
#   MatMul+Gather, per channel          intent 0.909  entity F1 0.832  118 MB  agree 0.989
#   ... without the token head's MatMul intent 0.909  entity F1 0.831  118 MB  agree 0.989
# One scale per weight tensor costs ~2 points (a few large output channels stretch the scale
# for all); per channel, the frozen 250k x 384 word-embedding Gather (four fifths of the file)
# can be int8 at no measurable cost, and keeping the heads in fp32 gains nothing. What is left
# is the activations' dynamic quantisation (one scale per batch and tensor, so an int8 parse
# also depends on the other questions in its batch): ~11% of questions get at least one token
# tag that differs from fp32's. On the test questions (benchmarks/nlu_runtime.py) int8 lost 1.7
# entity-F1 points, beyond issue 14's 0.5: ORT fp32 is the runtime served by default.
QUANTIZED_OPS = ("MatMul", "Gather")
PER_CHANNEL = True
SAMPLE_TEXTS = ("가족끼리 태국 파타야 여행지 추천해줘", "홋카이도 3박4일 일정 짜줘",
                "다음달 오사카 날씨 어때?", "에펠탑 근처 호텔 추천해주세요",
                "김치찌개 레시피 알려줘", "성인 2명 아이 1명 제주도 2박3일 100만원 이하 패키지")


class _Logits(nn.Module):
    """The joint module with positional inputs and a tuple out (what the exporter traces)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                hints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.module(input_ids, attention_mask, hints)
        return out["intent_logits"], out["token_logits"]


def _torch_logits(module: nn.Module, batch: dict[str, np.ndarray]
                  ) -> tuple[np.ndarray, np.ndarray]:
    with torch.inference_mode():
        out = module(**{k: torch.from_numpy(batch[k]) for k in INPUTS})
    return out["intent_logits"].float().numpy(), out["token_logits"].float().numpy()


def _export_fp32(module: nn.Module, batch: dict[str, np.ndarray], path: Path) -> None:
    """The TorchScript-based ``torch.onnx.export`` (``dynamo=False``; deprecated, still in torch
    2.13). Measured against the dynamo exporter on joint-e5: both match torch to ~1e-6, but the
    dynamo one needs onnxscript, writes the weights to a separate ``.onnx.data`` file that
    quantisation and copies must carry along, and its graph ran 5-20% slower in ORT."""
    encoder: Any = module.encoder
    attention = encoder.config._attn_implementation
    # Traced with the eager attention: the same maths as SDPA in plain MatMul/Softmax ops, so
    # the graph holds nothing torch-specific; ORT's graph optimiser fuses them at load.
    encoder.config._attn_implementation = "eager"
    try:
        args = tuple(torch.from_numpy(batch[k]) for k in INPUTS)
        dynamic = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
        dynamic.update({"intent_logits": {0: "batch"},
                        "token_logits": {0: "batch", 1: "tokens"}})
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            # The deprecation notice: the choice is made above, on purpose.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(_Logits(module).eval(), args, str(path), input_names=list(INPUTS),
                              output_names=list(OUTPUTS), dynamic_axes=dynamic,
                              opset_version=OPSET, do_constant_folding=True, dynamo=False)
    finally:
        encoder.config._attn_implementation = attention


def quantize_int8(source: Path, target: Path, *, op_types: Sequence[str] = QUANTIZED_OPS,
                  per_channel: bool = PER_CHANNEL) -> None:
    """ONNX Runtime's dynamic int8 quantisation (weights int8 ahead of time, activations
    quantised per batch at run time): no calibration data needed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), op_types_to_quantize=list(op_types),
                     per_channel=per_channel, weight_type=QuantType.QInt8)


def onnx_logits(path: Path, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Runs an exported file once on one CPU thread."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    intent, token = session.run(list(OUTPUTS), {k: batch[k] for k in INPUTS})
    return np.asarray(intent), np.asarray(token)


def export_onnx(model: Any, directory: str | Path, *, quantize: bool,
                sample_texts: Sequence[str] = SAMPLE_TEXTS,
                op_types: Sequence[str] = QUANTIZED_OPS,
                per_channel: bool = PER_CHANNEL) -> Path:
    """Exports a fitted :class:`~recstack.nlu.joint.JointEncoderNLU` to ``directory``.

    Args:
        model: a fitted (or loaded) ``JointEncoderNLU``; read through ``module_``, ``codec_``,
            ``config`` and ``history_``.
        directory: created if needed; its ``model.onnx``, ``joint.json``, ``onnx.json`` and
            tokenizer files are replaced.
        quantize: int8 (``op_types``, ``per_channel``) instead of fp32.
        sample_texts: questions run through torch and ONNX Runtime after the export; their
            largest logit difference is recorded in ``onnx.json``.
        op_types: ONNX ops int8 covers (only with ``quantize``).
        per_channel: one scale per output channel instead of per tensor.

    Returns:
        the folder.
    """
    if not hasattr(model, "module_") or not hasattr(model, "codec_"):
        raise NotFoundError("this model has not been fitted", field="model",
                            fix="fit it or load it with JointEncoderNLU.load before exporting")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    module, codec = model.module_, model.codec_
    if next(module.parameters()).device.type != "cpu":
        module = module.cpu()
    module.eval()
    batch = collate(codec.encode(list(sample_texts)))
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        fp32 = Path(tmp) / MODEL_FILE
        _export_fp32(module, batch, fp32)
        if quantize:
            quantize_int8(fp32, directory / MODEL_FILE, op_types=op_types,
                          per_channel=per_channel)
        else:
            fp32.replace(directory / MODEL_FILE)
    codec.tokenizer.save_pretrained(directory)
    state = {"model_type": "joint-e5", "config": dataclasses.asdict(model.config),
             "labels": list(LABELS), "intents": list(INTENTS), "gazetteer": codec.lists,
             "history": model.history_.to_dict() if hasattr(model, "history_") else None}
    (directory / CONFIG_FILE).write_text(json.dumps(state, ensure_ascii=False),
                                         encoding="utf-8")
    want = _torch_logits(module, batch)
    got = onnx_logits(directory / MODEL_FILE, batch)
    diff = [float(np.abs(w - g).max()) for w, g in zip(want, got, strict=True)]
    if not all(np.isfinite(diff)):
        raise DataError(f"the exported model gives non-finite logits ({diff})", field="model",
                        fix="check the model's weights; re-export")
    meta = {"format": "onnx", "precision": "int8" if quantize else "fp32", "opset": OPSET,
            "inputs": list(INPUTS), "outputs": list(OUTPUTS),
            "quantization": {"method": "onnxruntime.quantize_dynamic", "weight_type": "QInt8",
                             "op_types": list(op_types), "per_channel": per_channel}
            if quantize else None,
            "torch": torch.__version__, "max_abs_logit_diff": {"intent": diff[0],
                                                               "token": diff[1]}}
    (directory / ONNX_META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return directory
