"""``recstack embeddings …`` commands: output and user errors (exit code 2, no traceback)."""

import json

import pytest
from typer.testing import CliRunner

from recstack.cli import app
from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.errors import RecstackError
from recstack.settings import get_settings


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSTACK_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    generate_travel(TravelConfig(n_users=120, n_products=90, n_countries=3, seed=5)).write(
        tmp_path / "home" / "data" / "travel")
    yield
    get_settings.cache_clear()


def test_train_similar_evaluate_and_report(home, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["embeddings", "train", "meta-prod2vec", "--set", "dim=8",
                                 "--set", "epochs=1", "--promote", "champion"])
    assert result.exit_code == 0, result.output
    assert "registered travel-similar-items version 1" in result.output
    item = get_settings().data_home / "travel" / "products.csv"
    first = item.read_text().splitlines()[1].split(",")[0]
    result = runner.invoke(app, ["embeddings", "similar", first, "--k", "3"])
    assert result.exit_code == 0, result.output
    assert "viewed together" in result.output
    result = runner.invoke(app, ["embeddings", "evaluate"])
    assert result.exit_code == 0 and "hr_at_10" in result.output
    _check_report(runner, tmp_path)


def _check_report(runner, tmp_path):
    """``report`` maps the registered champion (one training for the whole module)."""
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"protocol": "p", "datasets": [
        {"name": "travel", "n_rows": 1, "cold_max_count": 5, "cold_n_rows": 0,
         "results": [], "figures": []}]}))
    out = tmp_path / "report"
    result = runner.invoke(app, ["embeddings", "report", "--results", str(results),
                                 "--out", str(out), "--method", "pca"])
    assert result.exit_code == 0, result.output
    page = (out / "index.html").read_text()
    pngs = list(out.glob("*.png"))
    assert len(pngs) == 1 and pngs[0].name in page
    missing = runner.invoke(app, ["embeddings", "report", "--results", str(tmp_path / "no")])
    assert isinstance(missing.exception, RecstackError)
    assert missing.exception.field == "results"


def test_bad_override_is_a_user_error(home):
    result = CliRunner().invoke(app, ["embeddings", "train", "--set", "windw=3"])
    assert isinstance(result.exception, RecstackError)
    assert result.exception.field == "windw"
