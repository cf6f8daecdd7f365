"""The matching step of ``recstack demo``: skips with a clear message without the shared data,
and otherwise registers both matchers and promotes the better one on validation."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from recstack.registry.models import ModelRegistry
from recstack.settings import Settings


def test_demo_skips_without_the_shared_data(tmp_path):
    from recstack.matching.demo import run

    out = io.StringIO()
    settings = Settings(home=tmp_path / "home", data={"shared_dir": tmp_path / "nothing"})
    outcome = run(settings, Console(file=out, width=200))
    assert outcome.summary == "skipped: no Geo-ER data"
    assert "matching skipped: no Geo-ER pairs at" in out.getvalue()
    assert "RECSTACK_DATA__SHARED_DIR" in out.getvalue()


@pytest.mark.slow
def test_demo_registers_both_matchers(tmp_path, shared_data):
    from recstack.matching.demo import run

    settings = Settings(home=tmp_path / "home", data={"shared_dir": shared_data})
    out = io.StringIO()
    outcome = run(settings, Console(file=out, width=200))
    versions = ModelRegistry(settings).list("place-matcher")
    assert [v.model_type for v in versions] == ["thresholds", "gbm"]
    champion = ModelRegistry(settings).get("place-matcher", alias="champion")
    best = max(versions, key=lambda v: float(v.tags["valid_f1"]))
    assert champion.version == best.version
    assert all("test_f1" in v.tags for v in versions)
    assert outcome.examples and "/v1/places/match" in outcome.examples[0]
