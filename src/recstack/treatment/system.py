"""The treatment-recommendation system's plug into the spine (see :mod:`recstack.system`)."""

from __future__ import annotations

from pydantic import Field

from recstack.system import DemoStep, ModelKind, SystemSettings, SystemSpec


class TreatmentSettings(SystemSettings):
    """``RECSTACK_TREATMENT__*``: treatment recommendation (lens size)."""

    default_model: str | None = Field(
        "icl-size@champion", description="registered treatment model served when a request "
                                         "names none")


TREATMENT_MODEL = ModelKind(
    name="treatment",
    loader="recstack.treatment.pipeline:load_bundle_dir",
    metrics=("share_patients_without_support", "kappa_min", "n_patients"),
    model_types=("treatment-conformal",),
    pyfunc="recstack.treatment.pyfunc_model",
)

SPEC = SystemSpec(
    name="treatment",
    summary="Treatment recommendation with honest intervals (lens size from eye measurements).",
    settings=TreatmentSettings,
    model_kinds=(TREATMENT_MODEL,),
    router="recstack.treatment.router:router",
    cli="recstack.treatment.cli:app",
    demo=DemoStep(title="clinic lens-size recommender and its monitoring",
                  run="recstack.treatment.demo:run", order=30),
    pipelines="recstack.treatment.pipelines:PIPELINES",
)
