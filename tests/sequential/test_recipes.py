"""Named recipes: each one is the settings stored with its figure, and a run is tagged with it."""

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recstack.cli import app
from recstack.data.catalog import DATASETS
from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.errors import ConfigError, RecstackError
from recstack.sequential import cli as sequential_cli
from recstack.sequential.base import model_class
from recstack.sequential.pipeline import TrainConfig
from recstack.sequential.recipes import RECIPES, get_recipe
from recstack.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]


def _stored_row(result: str) -> dict:
    """The row ``FILE#KEY`` of a benchmark results file (a dict of rows, or a list of them)."""
    path, _, key = result.partition("#")
    rows = json.loads((ROOT / path).read_text())["results"]
    if isinstance(rows, list):
        rows = {row["model"]: row for row in rows}
    return rows[key]


def _config_without_threads(model: str, params: dict) -> dict:
    # The benchmark set its threads process-wide (--threads), not in the stored params.
    config = dataclasses.asdict(model_class(model).from_params(params).config)
    config.get("training", {}).pop("threads", None)
    return config


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_builds_and_matches_the_settings_stored_with_its_figure(name):
    recipe = get_recipe(name)
    model_class(recipe.model).from_params(recipe.params())  # unknown keys or types would raise
    assert recipe.dataset in DATASETS
    assert (recipe.figure is not None) == recipe.measured
    if recipe.figure is None or not recipe.figure.result.startswith("benchmarks/"):
        return
    row = _stored_row(recipe.figure.result)
    for metric, value in recipe.figure.metrics.items():
        assert round(row[metric], 3 if metric.startswith("coverage") else 4) == value, metric
    if recipe.model != "popularity":
        assert (_config_without_threads(recipe.model, recipe.params())
                == _config_without_threads(recipe.model, row["params"]))


def test_overrides_go_on_top_of_the_recipe_and_are_recorded():
    config = TrainConfig.from_recipe("sasrec-ml1m-t2", {"epochs": "3"}, dataset="ml-1m-t2",
                                     split="temporal")
    assert config.model == "sasrec" and config.dataset == "ml-1m-t2"
    assert config.params["epochs"] == "3" and config.params["hidden"] == 256
    # the recipe's own dataset is no override; another split is
    assert config.recipe_overrides == {"epochs": "3", "split": "temporal"}
    assert config.run_tags == {"recipe": "sasrec-ml1m-t2",
                               "recipe_overrides": "epochs=3 split=temporal"}


def test_an_unknown_recipe_names_the_option_and_lists_the_known_ones():
    with pytest.raises(ConfigError) as caught:
        get_recipe("sasrec-ml1m")
    assert caught.value.field == "recipe"
    assert all(name in caught.value.fix for name in RECIPES)
    result = CliRunner().invoke(app, ["sequential", "train", "--recipe", "sasrec-ml1m"])
    assert isinstance(result.exception, RecstackError)
    assert result.exception.field == "recipe"


def test_listing_shows_every_recipe_with_its_figure(monkeypatch):
    monkeypatch.setattr(sequential_cli.console, "width", 300)
    result = CliRunner().invoke(app, ["sequential", "recipes"])
    assert result.exit_code == 0, result.output
    for recipe in RECIPES.values():
        line = next(line for line in result.output.splitlines() if f" {recipe.name} " in line)
        assert recipe.model in line and recipe.budget.describe() in line
        if recipe.figure:
            assert recipe.figure.headline in line and recipe.figure.date in line
        else:
            assert "not run yet" in line


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSTACK_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    generate_travel(TravelConfig(n_users=120, n_products=90, n_countries=3, seed=5)).write(
        tmp_path / "home" / "data" / "travel")
    yield get_settings()
    get_settings.cache_clear()


def test_train_by_recipe_uses_its_settings_and_tags_run_and_version(home):
    import mlflow

    from recstack.registry.models import ModelRegistry

    # the champion recipe on a tiny shop for one epoch: what is not overridden is the recipe's
    result = CliRunner().invoke(app, [
        "sequential", "train", "--recipe", "sasrec-ml1m-t2", "--dataset", "travel",
        "--set", "epochs=1", "--set", "max_length=20", "--set", "threads=1"])
    assert result.exit_code == 0, result.output
    assert "recipe sasrec-ml1m-t2" in result.output
    registry = ModelRegistry(home)
    version = registry.resolve("travel-next-item/1")
    run = mlflow.MlflowClient(home.tracking_uri).get_run(version.run_id)
    params = run.data.params
    assert params["config.model.hidden"] == "256"
    assert params["config.training.amp"] == "True"
    assert params["config.training.scheduler"] == "cosine"
    assert params["config.training.eval_rows"] == "2000"
    assert params["config.training.epochs"] == "1"
    assert run.data.metrics["epochs_trained"] == 1
    overrides = "epochs=1 max_length=20 threads=1 dataset=travel"
    assert run.data.tags["recipe"] == "sasrec-ml1m-t2"
    assert run.data.tags["recipe_overrides"] == overrides
    tags = registry.client.get_model_version("travel-next-item", "1").tags
    assert tags["recipe"] == "sasrec-ml1m-t2" and tags["recipe_overrides"] == overrides
