"""Every next-item model on ML-1M-T2: full ranking, leave-one-out, with wall time and best epoch.

Each model trains on the training sequences with early stopping on the validation item, then the
test item is scored once (full ranking over all 3,416 items, seen items excluded). Item-kNN is
the reference measured in the same run (see ``baselines_ml1m.py`` for its own reference); a
RecBole SASRec run on the same sequences can be added with ``--recbole`` (it installs RecBole
into a separate virtualenv, ``benchmarks/.venv-recbole``, because RecBole needs numpy < 2).

    .venv/bin/python benchmarks/sequential_ml1m.py --models sasrec,bert4rec --budget-minutes 20
    .venv/bin/python benchmarks/sequential_ml1m.py --recipe sasrec-ml1m-t2   # a README row

``--recipe NAME`` (``recstack sequential recipes`` lists them) takes the model, settings and
budget (epochs, minutes, threads) of a named recipe instead of ``--models``/``--budget-minutes``/
``--threads``; ``--set`` still overrides single settings, and the row is stored under the recipe
name with the recipe and its overrides recorded in it.

Writes ``benchmarks/results/sequential_ml1m_t2.json`` (merging with earlier runs of other models).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from recstack.data.sasrec import load_ml1m_t2
from recstack.data.splits import Split, leave_one_out
from recstack.evaluation import count_items, evaluate_scores
from recstack.sequential.base import FitContext, model_class
from recstack.sequential.recipes import RECIPES, get_recipe

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "sequential_ml1m_t2.json"
# Settings per model: the models' defaults are already tuned for ML-1M-T2; these add the
# training budget. eval_rows keeps each validation pass short on a CPU.
PLANS: dict[str, dict[str, Any]] = {
    "itemknn": dict(RECIPES["itemknn-ml1m-t2"].settings),
    "popularity": {},
    "sasrec": {"eval_every": 2, "eval_rows": 2000, "patience": 5},
    "gsasrec": {"eval_every": 2, "eval_rows": 2000, "patience": 5},
    # max_length 100 halves BERT4Rec's epoch time; it needs many epochs on a CPU budget.
    "bert4rec": {"eval_every": 2, "eval_rows": 2000, "patience": 5, "max_length": 100},
    "meta-bert4rec": {"eval_every": 2, "eval_rows": 2000, "patience": 5, "max_length": 100},
    "ncf": {"eval_every": 2, "eval_rows": 2000, "patience": 4},
    "deepfm": {"eval_every": 2, "eval_rows": 2000, "patience": 4},
}


def run_model(name: str, split: Split, budget_minutes: float | None, console: Console,
              extra: dict[str, str] | None = None, plan: dict[str, Any] | None = None) -> dict:
    """Train ``name`` with ``plan`` (default: ``PLANS``) and ``extra`` on top, score the test item.

    ``budget_minutes`` (when given) sets a neural model's ``max_minutes``.
    """
    params = {**(PLANS.get(name, {}) if plan is None else plan), **(extra or {})}
    cls = model_class(name)
    if budget_minutes is not None and hasattr(cls.Config(), "training"):
        params["max_minutes"] = budget_minutes
    model = cls.from_params(params)
    started = time.perf_counter()
    model.fit(split.train, split.n_items,
              FitContext(valid=split.valid, item_metadata=split.dataset.item_metadata))
    wall = time.perf_counter() - started
    counts = count_items(split.train, split.n_items)
    test = evaluate_scores(model.score, split.test, split.n_items, item_counts=counts,
                           ks=(10, 20), sampled_negatives=100, progress=False)
    history = getattr(model, "history_", None)
    row = {"model": name, "params": params, "train_seconds": round(wall, 1),
           "best_epoch": history.best_epoch if history else None,
           "epochs": len(history.epochs) if history else None,
           **(history.plan_params() if history else {}),
           "seconds_per_epoch": (round(sum(e.seconds for e in history.epochs)
                                       / len(history.epochs), 1) if history else None),
           "device": history.device if history else "cpu",
           **{k: round(v, 5) for k, v in test.metrics.items()},
           # the validation curve: where the best epoch sat, whether it was still rising
           "curve": [{"epoch": e.epoch, "loss": round(e.loss, 4), "seconds": round(e.seconds, 1),
                      "lr": e.lr, **{k: round(v, 5) for k, v in e.valid.items()}}
                     for e in history.epochs] if history else None}
    console.print(f"{name}: test NDCG@10 {row['ndcg_at_10']:.4f} HR@10 {row['hr_at_10']:.4f} "
                  f"({wall:.0f} s, best epoch {row['best_epoch']})")
    return row


def _recbole_python() -> Path:
    python = HERE / ".venv-recbole" / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(python.parents[1])], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "torch==2.13.0",
                        "recbole==1.2.1", "numpy<2", "pandas<2.3", "setuptools>=77"],
                       check=True)
    return python


def run_recbole(console: Console, epochs: int, threads: int) -> dict | None:
    """RecBole SASRec (CE loss) on the same ML-1M-T2 sequences, in its own virtualenv."""
    with tempfile.TemporaryDirectory() as work:  # RecBole writes log folders into its cwd
        out = subprocess.run([str(_recbole_python()), str(HERE / "reference" / "recbole_sasrec.py"),
                              str(epochs), str(threads)], capture_output=True, text=True,
                             cwd=work)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return {"model": "reference: RecBole SASRec (CE)", **json.loads(line[7:])}
    console.print(f"[red]RecBole run failed[/red]: {out.stderr[-2000:]}")
    return None


def probe_recbole(console: Console, seconds: int, threads: int) -> dict | None:
    """Time RecBole's training steps for ``seconds`` (tqdm's progress) when a run cannot finish.

    RecBole trains sequential models on every prefix of every sequence (~988k samples per
    ML-1M-T2 epoch), so its epoch is far longer than ours; this records its measured step
    time and the projected epoch length instead of a test figure.
    """
    with tempfile.TemporaryDirectory() as work:
        try:
            out = subprocess.run([str(_recbole_python()),
                                  str(HERE / "reference" / "recbole_sasrec.py"), "1",
                                  str(threads), "progress"], capture_output=True, text=True,
                                 cwd=work, timeout=seconds)
            stderr = out.stderr
        except subprocess.TimeoutExpired as stopped:  # its output is bytes even with text=True
            raw = stopped.stderr or b""
            stderr = raw.decode() if isinstance(raw, bytes) else raw
    # tqdm lines look like "  2%|▉   | 160/7574 [03:36<2:48:25,  1.36s/it]"
    steps = re.findall(r"\|\s*(\d+)/(\d+) \[([\d:]+)<", stderr.replace("\r", "\n"))
    if not steps:
        console.print(f"[red]RecBole probe saw no training step[/red]: {stderr[-2000:]}")
        return None
    done, total, elapsed = steps[-1]
    seconds_elapsed = sum(int(p) * 60 ** i for i, p in enumerate(reversed(elapsed.split(":"))))
    per_step = seconds_elapsed / max(int(done), 1)
    probe = {"implementation": "RecBole 1.2.1 SASRec (CE, hidden 64, max length 200, batch 128)",
             "threads": threads, "probe_seconds": seconds, "steps_done": int(done),
             "steps_per_epoch": int(total), "seconds_per_step": round(per_step, 3),
             "projected_epoch_minutes": round(per_step * int(total) / 60, 1)}
    console.print(f"RecBole: {per_step:.2f} s/step, {total} steps per epoch → "
                  f"{probe['projected_epoch_minutes']} min per epoch")
    return probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="itemknn,sasrec,gsasrec,bert4rec,meta-bert4rec,"
                        "ncf,deepfm")
    parser.add_argument("--recipe", action="append", default=[], metavar="NAME",
                        help="run a named recipe instead of --models (repeatable)")
    parser.add_argument("--budget-minutes", type=float, default=30.0,
                        help="training wall-clock budget per neural model")
    parser.add_argument("--recbole", action="store_true", help="also run RecBole's SASRec")
    parser.add_argument("--recbole-epochs", type=int, default=200,
                        help="RecBole epochs (it trains on every prefix: an epoch is long)")
    parser.add_argument("--recbole-probe", type=int, default=0, metavar="SECONDS",
                        help="only time RecBole's steps for SECONDS and project its epoch")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--set", action="append", default=[], help="key=value for every model")
    parser.add_argument("--label", default="",
                        help="store the rows as '<model or recipe>:<label>' (keeps a variant "
                        "beside the default run of the same model or recipe)")
    parser.add_argument("--shared-data", type=Path, default=HERE.parents[1] / "shared" / "data")
    args = parser.parse_args()
    recipes = [get_recipe(name) for name in args.recipe]  # an unknown name fails before loading
    for recipe in recipes:
        if recipe.dataset != "ml-1m-t2":
            parser.error(f"recipe {recipe.name} is for {recipe.dataset}; this file runs "
                         "ML-1M-T2 (use recstack sequential train --recipe)")
    console = Console()
    root = args.shared_data / "ml-1m"
    split = leave_one_out(load_ml1m_t2(root / "sasrec", movies_path=root / "movies.dat"))
    if args.threads:
        torch.set_num_threads(args.threads)
    fresh = {}
    overrides = dict(kv.split("=", 1) for kv in args.set)
    for recipe in recipes:
        if recipe.budget.threads:  # also for the scoring, which runs outside the trainer
            torch.set_num_threads(recipe.budget.threads)
        row = run_model(recipe.model, split, None, console, overrides, plan=recipe.params())
        key = f"{recipe.name}:{args.label}" if args.label else recipe.name
        fresh[key] = {**row, "model": key, "recipe": recipe.name, "recipe_overrides": overrides}
    for name in [] if args.recipe else [m.strip() for m in args.models.split(",") if m.strip()]:
        # the item-kNN reference runs with its own tuned settings and never takes a label
        extra = None if name == "itemknn" else overrides
        row = run_model(name, split, args.budget_minutes, console, extra)
        key = f"{name}:{args.label}" if args.label and name != "itemknn" else name
        fresh[key] = {**row, "model": key}
    if args.recbole:
        ref = run_recbole(console, args.recbole_epochs, args.threads)
        if ref:
            fresh["recbole-sasrec"] = ref
    probe = probe_recbole(console, args.recbole_probe, args.threads) if args.recbole_probe else None
    # Re-read just before writing: runs of different models may go on side by side.
    report = json.loads(RESULT.read_text()) if RESULT.exists() else {"results": {}}
    report["results"].update(fresh)
    if probe:
        report["recbole_probe"] = probe
    report.update({
        "dataset": "ML-1M-T2", "protocol": "leave-one-out; test = last item, validation = "
        "second-to-last (early stopping); full ranking over all items, seen excluded, "
        "pessimistic ties; sampled100_* beside it", "machine": platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "reference_ndcg_at_10": report["results"].get("itemknn", {}).get("ndcg_at_10")})
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2))
    table = Table(title="ML-1M-T2 test (full ranking)")
    for col in ("model", "HR@10", "NDCG@10", "train s", "best epoch", "s/epoch", "device"):
        table.add_column(col, justify="right")
    for row in sorted(report["results"].values(), key=lambda r: -r["ndcg_at_10"]):
        table.add_row(row["model"], f"{row['hr_at_10']:.4f}", f"{row['ndcg_at_10']:.4f}",
                      str(row.get("train_seconds")), str(row.get("best_epoch")),
                      str(row.get("seconds_per_epoch")), str(row.get("device", "cpu")))
    console.print(table)


if __name__ == "__main__":
    main()
