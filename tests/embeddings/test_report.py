"""The 2-D projection figure and the HTML report."""

import numpy as np
import pandas as pd
import pytest

from recstack.embeddings.report import plot_projection, write_report
from recstack.errors import ConfigError, DataError


@pytest.fixture
def items():
    rng = np.random.default_rng(0)
    cities = np.repeat(["Osaka", "Paris", "Rome"], 20)
    centres = {"Osaka": 0.0, "Paris": 5.0, "Rome": -5.0}
    vectors = np.vstack([np.zeros(8)] + [centres[c] + rng.normal(size=8) for c in cities])
    meta = pd.DataFrame({"city": cities}, index=range(1, 61))
    return vectors, meta


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projection_writes_a_png(items, tmp_path, method):
    vectors, meta = items
    path = plot_projection(vectors, meta, "city", tmp_path / "map.png", method=method,
                           counts=np.arange(61))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_projection_errors_name_the_field(items, tmp_path):
    vectors, meta = items
    with pytest.raises(DataError) as err:
        plot_projection(vectors, meta, "genre", tmp_path / "x.png")
    assert err.value.field == "field"
    with pytest.raises(ConfigError):
        plot_projection(vectors, meta, "city", tmp_path / "x.png", method="umap")


def test_report_holds_the_table_and_figures(tmp_path):
    row = {"model": "Meta-Prod2Vec", "notes": "n", "hr_at_10": 0.3141, "ndcg_at_10": 0.2,
           "cold_hr_at_10": 0.1, "cold_ndcg_at_10": 0.05, "fit_seconds": 3.0,
           "tokens_per_second": 12345.0}
    results = {"protocol": "p", "datasets": [{"name": "travel", "n_rows": 10,
                                              "cold_max_count": 5, "cold_n_rows": 2,
                                              "results": [row]}]}
    png = tmp_path / "fig.png"
    png.write_bytes(b"x")
    page = write_report(results, {"travel": [(png, "a <b> map")]}, tmp_path).read_text()
    assert "0.3141" in page and "12,345" in page and 'src="fig.png"' in page
    assert "a &lt;b&gt; map" in page  # captions are escaped
