"""The joint encoder served by ONNX Runtime, without torch.

Loads a folder written by :func:`recstack.nlu.export.export_onnx` (``model.onnx``, the fast
tokenizer's files, ``joint.json``) and parses exactly as
:meth:`recstack.nlu.joint.JointEncoderNLU.parse` does: the same
:class:`~recstack.nlu.tagging.JointCodec` encodes the questions and decodes the logits; only the
network runs elsewhere. A worker that serves it does not import torch (~220 MB of resident
memory less per worker: see ``benchmarks/nlu_runtime.py``); ``tests/nlu/test_onnx_runtime.py``
checks that with an import hook.
"""

from __future__ import annotations

import os

# Why here: huggingface_hub reads these when transformers first imports it; nothing may download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import json
import shutil
from pathlib import Path
from typing import Any, Self

import numpy as np
import onnxruntime as ort
from transformers import PreTrainedTokenizerFast

from recstack.errors import ConfigError, NotFoundError
from recstack.nlu.schema import Example, Parse
from recstack.nlu.tagging import JointCodec, collate, read_saved_state

__all__ = ["OnnxJointNLU"]

MODEL_FILE, CONFIG_FILE, META_FILE = "model.onnx", "joint.json", "onnx.json"


def session_options(threads: int = 1) -> ort.SessionOptions:
    """One inference session's options.

    ``threads`` is ONNX Runtime's intra-op thread count. It defaults to 1 because the service
    already runs in parallel elsewhere: uvicorn runs synchronous routes on a thread pool and
    gunicorn runs several worker processes, so a session that spreads one request over every
    core makes concurrent requests fight over the same cores (oversubscription: p99 grows with
    the load). One thread per parse leaves the parallelism to requests and workers. Inter-op
    threads stay at 1: the graph is a chain of ops with nothing to run side by side.
    """
    if threads < 1:
        raise ConfigError("threads must be at least 1", field="threads",
                          fix="for example threads=1 (one per request; see the docstring)")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


class OnnxJointNLU:
    """A joint-e5 model exported to ONNX, parsed with ONNX Runtime on the CPU.

    Build it with :meth:`load`; ``parse`` behaves like ``JointEncoderNLU.parse``.
    """

    def __init__(self, session: ort.InferenceSession, codec: JointCodec, *,
                 eval_batch_size: int = 64, meta: dict[str, Any] | None = None,
                 directory: Path | None = None):
        self.session = session
        self.directory = directory
        self.codec_ = codec
        self.eval_batch_size = eval_batch_size
        self.meta = meta or {}
        # An export without the gazetteer hint drops the unused ``hints`` input from the graph.
        self._inputs = [i.name for i in session.get_inputs()]

    @classmethod
    def load(cls, directory: str | Path, *, threads: int = 1) -> Self:
        """Reads a folder written by :func:`recstack.nlu.export.export_onnx`.

        Args:
            directory: the exported folder.
            threads: ONNX Runtime intra-op threads (see :func:`session_options`).
        """
        directory = Path(directory)
        missing = [n for n in (MODEL_FILE, CONFIG_FILE, "tokenizer.json")
                   if not (directory / n).is_file()]
        if missing:
            raise NotFoundError(f"{directory} lacks {', '.join(missing)}", field="directory",
                                fix="pass a folder written by recstack.nlu.export.export_onnx")
        state = read_saved_state(directory / CONFIG_FILE,
                                 fix="export the model again with this version of recstack")
        config = state["config"]
        tokenizer = PreTrainedTokenizerFast.from_pretrained(directory, local_files_only=True)
        codec = JointCodec.from_config(tokenizer, state["gazetteer"], config)
        session = ort.InferenceSession(str(directory / MODEL_FILE), session_options(threads),
                                       providers=["CPUExecutionProvider"])
        meta_path = directory / META_FILE
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        # int8 quantises activations with one scale per run, over the whole padded batch: a
        # question's tags could change with the questions beside it. One question per run
        # keeps a parse a function of its text (the service, batch or not, and monitoring see
        # the same answer), at ~1.5x the batched cost per question.
        batch_size = 1 if meta.get("precision") == "int8" else int(config.get("eval_batch_size",
                                                                                64))
        return cls(session, codec, eval_batch_size=batch_size, meta=meta, directory=directory)

    def fit(self, examples: list[Example], valid: list[Example] | None = None) -> Self:
        """Not available: an exported network is fixed (the NLU model protocol asks for it)."""
        raise ConfigError("an ONNX export cannot be trained", field="model",
                          fix="fit a JointEncoderNLU (recstack.nlu.joint) and export it with "
                              "recstack.nlu.export.export_onnx")

    def save(self, directory: str | Path) -> None:
        """Copies the exported folder this model was loaded from to ``directory``."""
        if self.directory is None:
            raise NotFoundError("this model was not loaded from a folder", field="model",
                                fix="use OnnxJointNLU.load(directory)")
        shutil.copytree(self.directory, directory, dirs_exist_ok=True)

    def _predict(self, texts: list[str], items: list[dict[str, Any]]) -> list[Parse]:
        parses: list[Parse] = []
        size = self.eval_batch_size
        for lo in range(0, len(items), size):
            chunk = items[lo:lo + size]
            batch = collate(chunk)
            intent, token = self.session.run(["intent_logits", "token_logits"],
                                             {name: batch[name] for name in self._inputs})
            parses.extend(self.codec_.parses(texts[lo:lo + size], chunk, np.asarray(intent),
                                             np.asarray(token)))
        return parses

    def parse(self, texts: list[str]) -> list[Parse]:
        """Parses a batch; empty or blank text is ``other`` with no entities. Text beyond
        ``max_length`` tokens is cut off (its entities are not found)."""
        live = [i for i, t in enumerate(texts) if t and t.strip()]
        out = [Parse(text=t, intent="other", intent_score=1.0, entities=[]) for t in texts]
        if live:
            live_texts = [texts[i] for i in live]
            for i, parse in zip(live, self._predict(live_texts, self.codec_.encode(live_texts)),
                                strict=True):
                out[i] = parse
        return out
