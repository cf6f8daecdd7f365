"""kuzu 0.11.3's own vector index against numpy, on the chat's merchant e5 vectors.

The saved vectors (``<home>/chat/merchant_e5.npz`` from ``recstack chat build``, or a subset
the benchmark built) are tiled with a little noise to the 5,409 merchants of the data, loaded
into a kuzu table, indexed with ``CREATE_VECTOR_INDEX`` (cosine), and 50 noisy copies are
queried for their top 20 by both; recall is of kuzu's 20 against numpy's exact 20.

    PYTHONPATH=src .venv/bin/python benchmarks/conversational_kuzu_vector.py PATH/merchant_e5.npz
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    import kuzu

    saved = np.load(Path(sys.argv[1]))
    vectors = saved["vectors"].astype(np.float32)
    rng = np.random.default_rng(0)
    n = 5409
    data = np.concatenate([vectors] * (n // len(vectors) + 1))[:n]
    data = data + rng.normal(scale=0.01, size=data.shape).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    with tempfile.TemporaryDirectory() as folder:
        db = kuzu.Database(str(Path(folder) / "v.kuzu"))
        conn = kuzu.Connection(db)
        conn.execute(f"CREATE NODE TABLE V(id INT64, v FLOAT[{data.shape[1]}], PRIMARY KEY(id))")
        conn.execute("COPY V FROM $f", {"f": pd.DataFrame({
            "id": np.arange(n), "v": [row.tolist() for row in data]})})
        started = time.perf_counter()
        conn.execute("CALL CREATE_VECTOR_INDEX('V', 'vidx', 'v', metric := 'cosine')")
        build = time.perf_counter() - started
        queries = data[rng.choice(n, 50, replace=False)] + rng.normal(
            scale=0.02, size=(50, data.shape[1])).astype(np.float32)
        kuzu_ms, numpy_ms, recall = [], [], []
        for query in queries:
            started = time.perf_counter()
            rows = conn.execute("CALL QUERY_VECTOR_INDEX('V', 'vidx', $q, 20) RETURN node.id",
                                {"q": query.tolist()}).get_all()
            kuzu_ms.append(1000 * (time.perf_counter() - started))
            started = time.perf_counter()
            exact = np.argpartition(-(data @ query), 20)[:20]
            numpy_ms.append(1000 * (time.perf_counter() - started))
            recall.append(len({r[0] for r in rows} & set(exact.tolist())) / 20)
    sys.stdout.write(
        f"index build {build:.1f} s; kuzu p50 {np.median(kuzu_ms):.1f} ms p95 "
        f"{np.quantile(kuzu_ms, 0.95):.1f} ms; numpy p50 {np.median(numpy_ms):.1f} ms p95 "
        f"{np.quantile(numpy_ms, 0.95):.1f} ms; kuzu recall@20 vs exact {np.mean(recall):.3f}\n")


if __name__ == "__main__":
    main()
