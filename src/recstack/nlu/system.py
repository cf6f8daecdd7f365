"""The travel NLU's plug into the spine (see :mod:`recstack.system`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from recstack.system import DemoStep, ModelKind, SystemSettings, SystemSpec


class NLUSettings(SystemSettings):
    """``RECSTACK_NLU__*``: intent and entities in Korean travel questions."""

    default_model: str | None = Field(
        "travel-nlu@champion", description="registered NLU model served when a request names none")
    # Chosen by measurement (benchmarks/nlu_runtime.py, docs/nlu.md "CPU runtime"): the fastest
    # runtime whose test intent accuracy and entity F1 stay within 0.5 points of torch fp32.
    # On the released recipe ORT int8 (one question per run) matched torch fp32 (intent equal,
    # entity F1 +0.09) at ~1/4 of its latency and 2/3 of its memory; torch int8 lost 2.5 points.
    runtime: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8", description="how joint-e5 runs on the CPU: 'torch' (PyTorch fp32), 'onnx' "
        "(ONNX Runtime fp32) or 'onnx-int8' (ONNX Runtime, dynamic int8); the ONNX runtimes do "
        "not import torch. Training exports this runtime's model into the bundle; other models "
        "ignore it")
    runtime_threads: int = Field(
        1, ge=1, description="ONNX Runtime intra-op threads per parse: 1 because requests run "
        "in threads and workers in processes already")


NLU_MODEL = ModelKind(
    name="nlu",
    loader="recstack.nlu.bundle:NLUBundle.load",
    metrics=("valid_intent_accuracy", "valid_entity_f1", "test_intent_accuracy",
             "test_entity_f1"),
    pyfunc="recstack.nlu.pyfunc_model",
)

SPEC = SystemSpec(
    name="nlu",
    summary="Travel NLU: intent and entities in Korean travel questions.",
    settings=NLUSettings,
    model_kinds=(NLU_MODEL,),
    router="recstack.nlu.router:router",
    cli="recstack.nlu.cli:app",
    demo=DemoStep(title="Korean travel NLU", run="recstack.nlu.demo:run", order=15),
    pipelines="recstack.nlu.pipelines:PIPELINES",
)
