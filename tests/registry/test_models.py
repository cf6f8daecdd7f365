"""The MLflow-backed registry: versions, aliases, promotion, loading by alias."""

import mlflow
import pandas as pd
import pytest

from recstack.errors import DataError, NotFoundError
from recstack.registry.models import ModelRegistry, parse_model_ref
from recstack.registry.tracking import configure_mlflow
from recstack.sequential.pipeline import evaluate, load_bundle


def test_parse_model_ref():
    assert parse_model_ref("m") == ("m", "champion", None)
    assert parse_model_ref("m@challenger") == ("m", "challenger", None)
    assert parse_model_ref("m/3") == ("m", None, "3")
    with pytest.raises(DataError, match="NAME@ALIAS"):
        parse_model_ref("m@@x")


def test_training_registers_versions_with_config_metrics_and_artifacts(trained_home):
    settings, versions = trained_home
    registry = ModelRegistry(settings)
    listed = registry.list("travel-next-item")
    assert [v.model_type for v in listed] == ["popularity", "itemknn"]
    assert float(listed[1].tags["valid_ndcg_at_10"]) > 0
    assert {v.tags["kind"] for v in listed} == {"sequential"}
    run = mlflow.MlflowClient(settings.tracking_uri).get_run(versions["itemknn"].run_id)
    assert run.data.params["config.window"] == "3"
    assert "valid_ndcg_at_10" in run.data.metrics and "fit_seconds" in run.data.metrics
    assert settings.tracking_uri.startswith("sqlite:///")
    assert (settings.home / "mlflow.db").exists()
    assert any(settings.artifact_root.rglob("bundle.json"))  # artifacts under home, not ./mlruns


def test_alias_promotion_moves_the_champion(trained_home):
    settings, versions = trained_home
    registry = ModelRegistry(settings)
    assert registry.resolve("travel-next-item@champion").model_type == "itemknn"
    registry.promote("travel-next-item", versions["popularity"].version, "challenger")
    assert registry.resolve("travel-next-item@challenger").model_type == "popularity"
    bundle, info = load_bundle("travel-next-item@challenger", settings)
    assert info.version == versions["popularity"].version
    assert len(bundle.recommend(user_id=next(iter(bundle.histories)), k=3)) == 3


def test_unknown_names_get_clear_errors(trained_home):
    settings, _ = trained_home
    registry = ModelRegistry(settings)
    with pytest.raises(NotFoundError, match="travel-next-item"):
        registry.resolve("nope@champion")  # the fix lists the registered models
    with pytest.raises(NotFoundError, match="version 99"):
        registry.promote("travel-next-item", "99")


def test_evaluate_is_a_separate_run_that_tags_the_version(trained_home):
    settings, versions = trained_home
    result = evaluate(f"travel-next-item/{versions['itemknn'].version}", settings, progress=False)
    assert 0 < result.metrics["ndcg_at_10"] <= result.metrics["hr_at_10"] <= 1
    info = ModelRegistry(settings).get("travel-next-item", version=versions["itemknn"].version)
    assert float(info.tags["test_ndcg_at_10"]) == pytest.approx(result.metrics["ndcg_at_10"],
                                                                abs=1e-5)
    runs = mlflow.search_runs(search_all_experiments=True,
                              filter_string="tags.`recstack.kind` = 'evaluate'")
    assert len(runs) >= 1 and "metrics.test_ndcg_at_10" in runs.columns


def test_pyfunc_flavour_loads_with_plain_mlflow(trained_home):
    settings, _ = trained_home
    configure_mlflow(settings)
    model = mlflow.pyfunc.load_model("models:/travel-next-item@champion")
    bundle, _ = load_bundle("travel-next-item@champion", settings)
    user = next(iter(bundle.histories))
    out = model.predict(pd.DataFrame({"user_id": [user], "k": [4]}))
    expected = [r.item_id for r in bundle.recommend(user_id=user, k=4)]
    assert out["item_id"].tolist() == expected


def test_promote_best_picks_champion_and_challenger_on_a_validation_tag(settings, tmp_path):
    """Three versions tagged with a validation metric (one without it): the best is champion,
    the runner-up challenger, the untagged one is ignored, and list() reports the aliases."""
    from pathlib import Path

    from recstack.registry.tracking import start_run

    pyfunc = Path(__file__).parents[1] / "tiny_system" / "tinysys" / "pyfunc_model.py"
    registry = ModelRegistry(settings)
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "model.txt").write_text("a model")
    for score in ("0.20", "0.35", None, "0.30"):
        tags = {"model_type": "toy"} | ({"valid_ndcg_at_10": score} if score else {})
        with start_run(settings, "toy", kind="train"):
            registry.log_and_register("toy", folder, pyfunc, None, None, tags)
    champion, challenger = registry.promote_best("toy", "valid_ndcg_at_10")
    assert (champion.version, challenger and challenger.version) == ("2", "4")
    aliases = {v.version: v.aliases for v in registry.list("toy")}
    assert aliases == {"1": [], "2": ["champion"], "3": [], "4": ["challenger"]}
    only_first_two, _ = registry.promote_best("toy", "valid_ndcg_at_10", versions=["1", "3"])
    assert only_first_two.version == "1"  # the untagged version 3 never wins
    with pytest.raises(NotFoundError) as err:
        registry.promote_best("toy", "valid_hr_at_10")
    assert err.value.field == "metric"
