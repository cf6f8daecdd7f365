"""Report of the embeddings: 2-D maps of item vectors coloured by metadata, and the table.

``plot_projection`` draws items (t-SNE or PCA of their input vectors) coloured by city or
genre, as the seed system's figure; ``write_report`` renders the evaluation table of
``benchmarks/results/embeddings.json`` and the figures into one HTML page.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recstack.errors import ConfigError, DataError
from recstack.settings import Settings

_TOP_VALUES = 10  # colours that stay readable; other values are grey

_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#eee}td:first-child,td:nth-child(2){text-align:left}</style></head>
<body><h1>{{ title }}</h1>
<p>{{ protocol }}</p>
{% for ds in datasets %}
<h2>{{ ds.name }}</h2>
<p>{{ ds.n_rows }} test rows; cold = target with at most {{ ds.cold_max_count }} training views
({{ ds.cold_n_rows }} rows).</p>
<table><tr><th>model</th><th>notes</th><th>HR@10</th><th>NDCG@10</th><th>cold HR@10</th>
<th>cold NDCG@10</th><th>fit s</th><th>tokens/s</th></tr>
{% for r in ds.results %}<tr><td>{{ r.model }}</td><td>{{ r.notes }}</td>
<td>{{ "%.4f"|format(r.hr_at_10) }}</td><td>{{ "%.4f"|format(r.ndcg_at_10) }}</td>
<td>{{ "%.4f"|format(r.cold_hr_at_10) }}</td><td>{{ "%.4f"|format(r.cold_ndcg_at_10) }}</td>
<td>{{ "%.1f"|format(r.fit_seconds) }}</td>
<td>{{ "{:,.0f}".format(r.tokens_per_second) if r.tokens_per_second else "" }}</td></tr>
{% endfor %}</table>
{% for fig in ds.figures %}<figure><img src="{{ fig.file }}" width="900">
<figcaption>{{ fig.caption }}</figcaption></figure>{% endfor %}
{% endfor %}
</body></html>
"""


def project_2d(vectors: np.ndarray, method: str = "tsne", random_state: int = 0) -> np.ndarray:
    """``(N, D) -> (N, 2)`` with t-SNE (neighbourhoods, slow) or PCA (global, instant)."""
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=random_state).fit_transform(vectors)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(2.0, (len(vectors) - 1) / 3)))
        return TSNE(n_components=2, perplexity=perplexity, init="pca", metric="cosine",
                    random_state=random_state).fit_transform(vectors)
    raise ConfigError(f"unknown projection {method!r}", field="method", fix="use tsne or pca")


def plot_projection(vectors: np.ndarray, item_metadata: pd.DataFrame, field: str, path: Path, *,
                    counts: np.ndarray | None = None, method: str = "pca",
                    title: str | None = None) -> Path:
    """Scatter of item vectors in 2-D coloured by ``field`` (first value when ``a|b``).

    Args:
        vectors: ``(n_items + 1, D)`` item vectors; row 0 (padding) and zero rows are skipped.
        item_metadata: indexed by internal id 1..n_items.
        field: metadata column to colour by (``city``, ``genres``).
        path: PNG to write.
        counts: optional training views per item id; marker size grows with it.
        method: ``pca`` or ``tsne``.
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if field not in item_metadata.columns:
        raise DataError(f"item metadata has no column {field!r}", field="field",
                        fix=f"use one of: {', '.join(map(str, item_metadata.columns))}")
    items = np.flatnonzero(np.linalg.norm(vectors, axis=1) > 0)
    items = items[items > 0]
    if len(items) < 3:
        raise DataError("fewer than three items have vectors", field="vectors",
                        fix="train on more data")
    xy = project_2d(vectors[items], method)
    column = item_metadata[field].reindex(items).fillna("(missing)").astype(str)
    labels = column.str.split("|").str[0].to_numpy()
    top = pd.Series(labels).value_counts().index[:_TOP_VALUES]
    sizes = 6.0 if counts is None else 3.0 + 20.0 * np.sqrt(counts[items] / max(counts.max(), 1))
    fig, ax = plt.subplots(figsize=(10, 7), dpi=100)
    other = ~np.isin(labels, top)
    ax.scatter(xy[other, 0], xy[other, 1], s=np.broadcast_to(sizes, len(items))[other],
               c="lightgrey", alpha=0.5, label="other", linewidths=0)
    cmap = plt.get_cmap("tab10")
    for i, value in enumerate(top):
        sel = labels == value
        ax.scatter(xy[sel, 0], xy[sel, 1], s=np.broadcast_to(sizes, len(items))[sel],
                   color=cmap(i % 10), alpha=0.8, label=value, linewidths=0)
    ax.legend(loc="best", fontsize=8, markerscale=2, title=field)
    ax.set_title(title or f"item vectors ({method.upper()}), coloured by {field}")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(results: dict[str, Any], figures: dict[str, list[tuple[Path, str]]],
                 out_dir: Path) -> Path:
    """``index.html`` in ``out_dir`` with one table per dataset and its figures.

    Args:
        results: the JSON written by ``benchmarks/embeddings.py`` (``datasets`` list).
        figures: dataset name -> [(png path inside ``out_dir``, caption)].
        out_dir: where the page is written.
    """
    from jinja2 import Environment

    datasets = []
    for ds in results.get("datasets", []):
        datasets.append({**ds, "figures": [  # replaces the JSON's own list of PNG names
            {"file": html.escape(p.name), "caption": c} for p, c in figures.get(ds["name"], [])]})
    page = Environment(autoescape=True).from_string(_TEMPLATE).render(
        title="Co-view item embeddings: Meta-Prod2Vec vs Prod2Vec vs item-kNN",
        protocol=results.get("protocol", ""), datasets=datasets)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def build_report(results_path: Path, model_refs: list[str], out_dir: Path, settings: Settings,
                 *, method: str = "tsne") -> Path:
    """The HTML report from a benchmark JSON plus maps of registered models' item vectors.

    Raises:
        DataError: if ``results_path`` is missing or is not the benchmark's JSON.
    """
    import json

    from recstack.embeddings.pipeline import load_bundle
    from recstack.embeddings.sessions import DEFAULT_METADATA

    if not results_path.is_file():
        raise DataError(f"no results file at {results_path}", field="results",
                        fix="run benchmarks/embeddings.py first, or pass --results")
    try:
        results = json.loads(results_path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{results_path} is not JSON: {exc}", field="results",
                        fix="pass the file written by benchmarks/embeddings.py") from None
    figures: dict[str, list[tuple[Path, str]]] = {}
    for ref in model_refs:
        bundle, info = load_bundle(ref, settings)
        dataset = str(bundle.info.get("dataset", ""))
        field = DEFAULT_METADATA.get(dataset, ("city",))[0]
        if field not in bundle.items.columns:
            continue
        dim = int(bundle.info.get("config", {}).get("dim", bundle.query_vectors.shape[1]))
        vectors = np.vstack([np.zeros((1, dim), np.float32), bundle.query_vectors[:, :dim]])
        meta = bundle.items.set_index(pd.RangeIndex(1, len(bundle.items) + 1))
        name = f"{info.name}-v{info.version}-{field}.png".replace("/", "_")
        path = plot_projection(vectors, meta, field, out_dir / name, method=method,
                               title=f"{info.name} v{info.version} ({info.model_type}), "
                                     f"{method.upper()} coloured by {field}")
        figures.setdefault(dataset, []).append((path, f"{ref}: item vectors by {field}"))
    for ds in results.get("datasets", []):
        for png, caption in ds.get("figures", []):
            source = results_path.parent / png
            if source.is_file():
                target = out_dir / Path(png).name
                out_dir.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())
                figures.setdefault(ds["name"], []).append((target, caption))
    return write_report(results, figures, out_dir)
