"""The sequential recommender's plug into the spine (see :mod:`recstack.system`)."""

from __future__ import annotations

from pydantic import Field

from recstack.system import DemoStep, ModelKind, SystemSettings, SystemSpec


class SequentialSettings(SystemSettings):
    """``RECSTACK_SEQUENTIAL__*``: the next-item recommender."""

    default_model: str | None = Field(
        "travel-next-item@champion",
        description="registered next-item model served when a request names none")


NEXT_ITEM = ModelKind(
    name="sequential",
    loader="recstack.sequential.bundle:RecommenderBundle.load",
    metrics=("valid_ndcg_at_10", "valid_hr_at_10", "test_ndcg_at_10", "test_hr_at_10"),
    model_types=("popularity", "itemknn", "markov", "sasrec", "gsasrec", "bert4rec",
                 "meta-bert4rec", "ncf", "deepfm"),
    pyfunc="recstack.sequential.pyfunc_model",
)

SPEC = SystemSpec(
    name="sequential",
    summary="Next-item recommendation from click sequences (SASRec, BERT4Rec, item-kNN, …).",
    settings=SequentialSettings,
    model_kinds=(NEXT_ITEM,),
    router="recstack.sequential.router:router",
    cli="recstack.sequential.cli:app",
    demo=DemoStep(title="travel next-item recommenders", run="recstack.sequential.demo:run",
                  order=10),
    pipelines="recstack.sequential.pipelines:PIPELINES",
)
