"""Per-column drift on large frames: recstack's DriftDetector against Evidently's DataDriftPreset.

Both get the same reference and current frames (numerical columns with shifts around the
thresholds, low-cardinality integer columns, categorical columns with reweighted categories)
and choose methods by the same rule (Evidently's defaults), so the per-column verdicts should
agree. Each measurement runs in its own process; memory is the peak resident size (VmHWM) minus
the size after the data was built.

    .venv/bin/python benchmarks/drift.py --rows 10000 100000 1000000 --cols 100 \\
        --evidently-max-rows 100000

Writes ``benchmarks/results/drift.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

RESULT = Path(__file__).parent / "results" / "drift.json"
_P_VALUE_METHODS = {"K-S p_value", "chi-square p_value", "Z-test p_value"}


def make_frames(n_rows: int, n_cols: int, seed: int = 0
                ) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """Reference and current frames; ~30 % of columns drift, many near the threshold."""
    rng = np.random.default_rng(seed)
    n_cat = max(1, n_cols // 10)
    n_few = max(1, n_cols // 20)
    n_num = n_cols - n_cat - n_few
    ref: dict[str, Any] = {}
    cur: dict[str, Any] = {}
    for j in range(n_num):
        shift = rng.choice([0.0, 0.0, rng.uniform(0.02, 0.25)])  # normed W ≈ shift
        scale = rng.uniform(0.5, 5)
        ref[f"num{j}"] = rng.normal(0, scale, n_rows)
        cur[f"num{j}"] = rng.normal(shift * scale, scale, n_rows)
    for j in range(n_few):
        p = rng.dirichlet(np.ones(4) * 5)
        q = p if rng.random() < 0.6 else rng.dirichlet(np.ones(4) * 5)
        ref[f"few{j}"] = rng.choice(4, n_rows, p=p)
        cur[f"few{j}"] = rng.choice(4, n_rows, p=q)
    categories = np.array([f"c{k}" for k in range(12)])
    for j in range(n_cat):
        p = rng.dirichlet(np.ones(12) * 3)
        q = p if rng.random() < 0.6 else 0.8 * p + 0.2 * rng.dirichlet(np.ones(12) * 3)
        ref[f"cat{j}"] = pd.Categorical(rng.choice(categories, n_rows, p=p), categories)
        cur[f"cat{j}"] = pd.Categorical(rng.choice(categories, n_rows, p=q / q.sum()),
                                        categories)
    numerical = [*(f"num{j}" for j in range(n_num)), *(f"few{j}" for j in range(n_few))]
    return pd.DataFrame(ref), pd.DataFrame(cur), numerical, [f"cat{j}" for j in range(n_cat)]


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def _ours(ref: pd.DataFrame, cur: pd.DataFrame, categorical: list[str], n_jobs: int
          ) -> dict[str, bool]:
    from recstack.monitoring import DriftDetector

    report = DriftDetector(categorical=categorical, n_jobs=n_jobs).fit(ref).detect(cur)
    return dict(zip(report.columns["column"], report.columns["drifted"].astype(bool),
                    strict=True))


def _evidently(ref: pd.DataFrame, cur: pd.DataFrame, numerical: list[str],
               categorical: list[str]) -> dict[str, bool]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition))
    verdicts = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        value, threshold = float(metric["value"]), float(config["threshold"])
        p_value = config["method"] in _P_VALUE_METHODS
        verdicts[config["column"]] = value < threshold if p_value else value >= threshold
    return verdicts


def _measure(tool: str, n_rows: int, n_cols: int, n_jobs: int, queue: Any) -> None:
    ref, cur, numerical, categorical = make_frames(n_rows, n_cols)
    if tool == "recstack":  # imports are not part of the measurement, for either tool
        import recstack.monitoring.drift  # noqa: F401
    else:
        import evidently.presets  # noqa: F401
    before = _rss_kib("VmRSS")
    started = time.perf_counter()
    if tool == "recstack":
        verdicts = _ours(ref, cur, categorical, n_jobs)
    else:
        verdicts = _evidently(ref, cur, numerical, categorical)
    seconds = time.perf_counter() - started
    queue.put({"seconds": seconds, "peak_extra_mib": (_rss_kib("VmHWM") - before) / 1024,
               "verdicts": verdicts})


def measure(tool: str, n_rows: int, n_cols: int, n_jobs: int, timeout: float
            ) -> dict[str, Any] | None:
    """Run one tool in a fresh process; None if it ran past ``timeout``."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(tool, n_rows, n_cols, n_jobs, queue))
    proc.start()
    try:
        result: dict[str, Any] = queue.get(timeout=timeout)
    except Exception:
        proc.kill()
        return None
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--evidently-max-rows", type=int, default=100_000,
                        help="skip Evidently above this size (it is slow at 1M rows)")
    parser.add_argument("--n-jobs", type=int, default=1, help="recstack threads over columns")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    console = Console()
    rows = []
    for n_rows in args.rows:
        ours = measure("recstack", n_rows, args.cols, args.n_jobs, args.timeout)
        theirs = (measure("evidently", n_rows, args.cols, 1, args.timeout)
                  if n_rows <= args.evidently_max_rows else None)
        row: dict[str, Any] = {"rows": n_rows, "cols": args.cols,
                               "recstack_seconds": ours and round(ours["seconds"], 3),
                               "recstack_peak_extra_mib": ours and round(ours["peak_extra_mib"]),
                               "recstack_drifted": ours and sum(ours["verdicts"].values())}
        if ours and theirs:
            same = [ours["verdicts"][c] == v for c, v in theirs["verdicts"].items()]
            row.update({
                "evidently_seconds": round(theirs["seconds"], 3),
                "evidently_peak_extra_mib": round(theirs["peak_extra_mib"]),
                "evidently_drifted": sum(theirs["verdicts"].values()),
                "verdict_agreement": sum(same) / len(same),
                "disagreeing_columns": [c for c, v in theirs["verdicts"].items()
                                        if ours["verdicts"][c] != v],
                "speedup": round(theirs["seconds"] / ours["seconds"], 1)})
        rows.append(row)
        console.print(row)
    table = Table(title=f"drift of {args.cols} columns (reference and current of N rows each)")
    for column in ("rows", "recstack s", "Evidently s", "speed-up", "recstack MiB",
                   "Evidently MiB", "agreement"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(f"{r['rows']:,}", str(r["recstack_seconds"]),
                      str(r.get("evidently_seconds", "-")), f"{r.get('speedup', '-')}",
                      str(r["recstack_peak_extra_mib"]),
                      str(r.get("evidently_peak_extra_mib", "-")),
                      f"{r['verdict_agreement']:.3f}" if "verdict_agreement" in r else "-")
    console.print(table)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps({
        "benchmark": "per-column data drift, recstack DriftDetector vs Evidently DataDriftPreset",
        "evidently_version": __import__("evidently").__version__,
        "machine": {"python": platform.python_version(), "cpu_count": mp.cpu_count()},
        "command": "benchmarks/drift.py " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items()),
        "results": rows}, indent=2))
    console.print(f"→ {RESULT}")


if __name__ == "__main__":
    main()
