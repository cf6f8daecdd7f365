"""Quality bands on ML-100K: every model of the zoo, a small fixed budget, several seeds.

Each model trains on the frozen ML-100K leave-one-out split (last item test, second-to-last
validation, unused here) with the plan below, once per seed, and is scored on the test item
(full ranking, seen items excluded, ties against the model; ``recstack.sequential.quality``).
From the values the band each model must stay in is derived by one stated rule (``RULE``);
``tests/sequential/test_quality_bands.py`` (slow) trains seed ``TEST_SEED`` of each model and
fails when it leaves its band, and fails when a neural model's lower bound is not clearly
above popularity. Regenerating the bands after an intended change is this one command:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sequential_bands.py            # seeds 0-4
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sequential_bands.py --models sasrec,ncf

Writes ``benchmarks/results/sequential_bands_ml100k.json`` (``--models`` replaces those models'
entries and keeps the others).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from datetime import date
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recstack.data.dataset import SequenceDataset
from recstack.data.movielens import load_movielens_100k
from recstack.data.splits import leave_one_out
from recstack.sequential.quality import split_fingerprint, test_ndcg

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "sequential_bands_ml100k.json"
TEST_SEED = 0  # the seed the regression test trains (one of the measured seeds)
# The test trains one measured seed, and a seed fixes the whole run (initial weights included),
# so on the same software the test value is a measured value; the margin is for what behaves
# like another seed: other CPU kernels, another torch, a harmless change of code. One standard
# deviation beyond the measured extremes; the floor covers the deterministic baselines.
K_STD, FLOOR = 1.0, 0.005
RULE = (f"band = [min - m, max + m] over the seeds, m = max({K_STD:g} x sample std, {FLOOR})")
CLEAR = 1.25  # every neural model's lower bound must be at least this times popularity's mean
# Masked-item training starts slowly: at a test-sized budget on ML-100K BERT4Rec and
# Meta-BERT4Rec sit at 1.1-1.3x popularity (16 epochs: Meta-BERT4Rec 0.0599 for seed 0, against
# 0.0580 after 8), so their bands guard their level but cannot be clear of popularity; that
# they learn is checked on the synthetic shop (tests/sequential/test_presets_learn.py, 1.5x).
NOT_CLEAR = {"bert4rec": "slow start of masked-item training; learning checked in "
                         "test_presets_learn.py",
             "meta-bert4rec": "as bert4rec"}

# Small fixed budgets: one thread, max length 50, no validation pass, no early stopping.
# Batch 32 gives ~30 steps an epoch (943 users), which the short budgets need; learning rates
# are each model's fastest stable one at that batch (measured 2026-11-30, see the report).
_NEURAL = {"max_length": 50, "batch_size": 32, "patience": 0, "threads": 1}
PLANS: dict[str, dict[str, Any]] = {
    "popularity": {},
    "itemknn": {"window": 3, "n_recent": 5, "decay": 0.4, "alpha": 0.7},
    "sasrec": {**_NEURAL, "hidden": 64, "lr": 5e-3, "epochs": 5},
    # gSASRec leaves gBCE's constant-score plateau after ~3 epochs at this rate; 12 epochs
    # were worse than 8 (seed 0: 0.0692 against 0.0761, seed 1: 0.0636 against 0.0730)
    "gsasrec": {**_NEURAL, "hidden": 64, "lr": 2e-3, "dropout": 0.2, "epochs": 8},
    # BERT4Rec starts slowly (masked items give ~1/5 of SASRec's targets an epoch); one layer
    # and the last window (the random one trains on older items than the test asks) help most
    "bert4rec": {**_NEURAL, "lr": 5e-3, "n_layers": 1, "train_window": "last", "epochs": 8},
    "meta-bert4rec": {**_NEURAL, "lr": 5e-3, "n_layers": 1, "train_window": "last",
                      "epochs": 8},
    "ncf": {**_NEURAL, "epochs": 15},
    # pointwise BCE over every position is cheaper per epoch than the default sampled softmax
    "deepfm": {**_NEURAL, "loss": "bce", "n_negatives": 4, "targets_per_sequence": 0,
               "epochs": 10},
}
BASELINES = ("popularity", "itemknn")


def band(values: list[float]) -> list[float]:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    margin = max(K_STD * spread, FLOOR)
    return [round(min(values) - margin, 4), round(max(values) + margin, 4)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(PLANS))
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--recompute", action="store_true",
                        help="only derive the bands again from the stored values (a new rule)")
    parser.add_argument("--shared-data", type=Path, default=HERE.parents[1] / "shared" / "data")
    args = parser.parse_args()
    torch.set_num_threads(1)
    console = Console()
    seeds = [int(s) for s in args.seeds.split(",")]
    if TEST_SEED not in seeds:
        parser.error(f"--seeds must include the test seed {TEST_SEED}")
    split = leave_one_out(SequenceDataset.from_interactions(
        load_movielens_100k(args.shared_data / "ml-100k")))
    fingerprint = split_fingerprint(split)
    earlier = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    if earlier.get("split_fingerprint", fingerprint) != fingerprint:
        console.print("[yellow]the split changed: every model's band is measured again[/yellow]")
        args.models = ",".join(PLANS)
    fresh: dict[str, Any] = {}
    for name in [] if args.recompute else [m.strip() for m in args.models.split(",")
                                           if m.strip()]:
        # deterministic baselines: one run says all (the band's floor covers them)
        model_seeds = seeds[:1] if name in BASELINES else seeds
        values, seconds = [], []
        for seed in model_seeds:
            value, fit = test_ndcg(name, PLANS[name], seed, split)
            values.append(round(value, 5))
            seconds.append(round(fit, 1))
            console.print(f"{name} seed {seed}: test NDCG@10 {value:.4f} ({fit:.1f} s)")
        fresh[name] = {
            "params": PLANS[name], "seeds": model_seeds, "values": values,
            "mean": round(statistics.fmean(values), 5),
            "std": round(statistics.stdev(values), 5) if len(values) > 1 else 0.0,
            "band": band(values), "fit_seconds": seconds, "measured": str(date.today())}
    # Re-read just before writing: runs of different models may go on side by side.
    report = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    if report.get("split_fingerprint", fingerprint) != fingerprint:
        report = {}
    report["models"] = {**report.get("models", {}), **fresh}
    for entry in report["models"].values():
        entry["band"] = band(entry["values"])
    popularity = report["models"].get("popularity", {}).get("mean", 0.0)
    unclear = [name for name, entry in report["models"].items()
               if name not in (*BASELINES, *NOT_CLEAR) and entry["band"][0] < CLEAR * popularity]
    report.update({
        "dataset": "ml-100k", "split": "leave-one-out", "split_fingerprint": fingerprint,
        "metric": "test ndcg_at_10: full ranking over all items, seen items excluded, ties "
                  "against the model; fixed budget, no validation pass",
        "rule": RULE, "clear_of_popularity": CLEAR, "not_clear": NOT_CLEAR,
        "test_seed": TEST_SEED,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread(s)",
        "command": "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sequential_bands.py "
                   f"--seeds {args.seeds}"})
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2) + "\n")
    table = Table(title=escape(f"ML-100K test NDCG@10 bands ({RULE})"))
    for column in ("model", "seeds", "values", "mean", "std", "band", "fit s (mean)"):
        table.add_column(column, justify="right")
    for name, entry in report["models"].items():
        table.add_row(name, ",".join(map(str, entry["seeds"])),
                      " ".join(f"{v:.4f}" for v in entry["values"]), f"{entry['mean']:.4f}",
                      f"{entry['std']:.4f}", f"[{entry['band'][0]:.4f}, {entry['band'][1]:.4f}]",
                      f"{statistics.fmean(entry['fit_seconds']):.1f}")
    console.print(table)
    if unclear:
        console.print(f"[red]lower bound below {CLEAR} x popularity ({popularity:.4f}): "
                      f"{', '.join(unclear)}; give them a larger budget[/red]")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
