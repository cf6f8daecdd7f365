"""Place matching's plug into the spine (see :mod:`recstack.system`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from recstack.system import DemoStep, ModelKind, SystemSettings, SystemSpec


class MatchingSettings(SystemSettings):
    """``RECSTACK_MATCHING__*``: whether two records name the same place (or entity)."""

    default_model: str | None = Field(
        "place-matcher@champion", description="registered matcher served when a request names "
                                              "none")
    jobs_dir: Path | None = Field(
        None, description="folder of link jobs' files (inputs, outputs); default HOME/match-jobs")
    job_store_dsn: SecretStr | None = Field(
        None, description="postgresql://… keeps the match-job table in PostgreSQL (needs "
                          "psycopg); unset: SQLite in jobs_dir")
    packages: Path | None = Field(
        None, description="package catalogue (JSON) that POST /v1/packages/recommend and "
                          "`recstack packages recommend` rank when a request names none")
    package_model: str | None = Field(
        None, description="matcher that places planner stops in the catalogue; default "
                          "default_model (a `crosslingual` matcher handles Korean ↔ English)")
    package_select_threshold: float = Field(
        0.3, ge=0.0, le=1.0, description="least score of stage 1's pick (1:N) before stage 2 "
                                          "verifies it at 0.5")


MATCHER = ModelKind(
    name="matching",
    loader="recstack.matching.bundle:MatchBundle.load",
    metrics=("valid_f1", "valid_precision", "valid_recall", "test_f1"),
    pyfunc="recstack.matching.pyfunc_model",
)

SPEC = SystemSpec(
    name="matching",
    summary="Place matching: are two records (names, coordinates, addresses) the same place?",
    settings=MatchingSettings,
    model_kinds=(MATCHER,),
    router="recstack.matching.routes:router",
    cli="recstack.matching.cli:app",
    cli_name="match",
    demo=DemoStep(title="place matching (Geo-ER)", run="recstack.matching.demo:run", order=25),
    pipelines="recstack.matching.pipelines:PIPELINES",
)
