"""The travel NLU's plug into the spine (see :mod:`recstack.system`)."""

from __future__ import annotations

from pydantic import Field

from recstack.system import DemoStep, ModelKind, SystemSettings, SystemSpec


class NLUSettings(SystemSettings):
    """``RECSTACK_NLU__*``: intent and entities in Korean travel questions."""

    default_model: str | None = Field(
        "travel-nlu@champion", description="registered NLU model served when a request names none")


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
)
