"""SASRec trained by 1 and by N processes under torchrun (DDP on gloo): samples/s, loss, NDCG@10.

Each configuration is one ``torchrun --nproc-per-node N -m recstack.sequential.distributed`` run
in its own recstack home; the figures are read back from the one MLflow run it logs. Samples/s
is training sequences per second of training time (validation excluded), over all epochs. A
configuration ``PxT`` is P processes with T torch threads each (P × T cores): ``1x2`` against
``2x1`` compares DDP with one process using the same two cores.

    .venv/bin/python benchmarks/sequential_ddp.py --configs 1x1,2x1,1x2 --epochs 5

Writes ``benchmarks/results/sequential_ddp.json`` (``--out`` for another file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "sequential_ddp.json"


def torchrun(procs: int, home: Path, dataset: str, params: dict[str, Any]) -> None:
    """One distributed training run (also for 1 process: the same entry, no process group)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", str(procs), "-m", "recstack.sequential.distributed",
               "sasrec", "--dataset", dataset, "--no-register",
               *[f"--set={k}={v}" for k, v in params.items()]]
    env = {**os.environ, "RECSTACK_HOME": str(home)}
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)


def read_run(home: Path) -> dict[str, Any]:
    """The one training run's figures: final loss, validation metrics, seconds per epoch."""
    from recstack.registry.tracking import configure_mlflow
    from recstack.settings import Settings

    client = configure_mlflow(Settings(home=home))
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments)
    if len(runs) != 1:
        raise RuntimeError(f"expected one MLflow run in {home}, found {len(runs)}")
    run = runs[0]
    seconds = [m.value for m in client.get_metric_history(run.info.run_id, "epoch_seconds")]
    losses = sorted(client.get_metric_history(run.info.run_id, "epoch_loss"),
                    key=lambda m: m.step)
    return {"run_id": run.info.run_id, "final_loss": losses[-1].value,
            "valid_ndcg_at_10": run.data.metrics["valid_ndcg_at_10"],
            "valid_hr_at_10": run.data.metrics["valid_hr_at_10"],
            "epochs": len(seconds), "train_seconds": sum(seconds)}


def training_sequences(dataset: str) -> int:
    """Sequences per epoch: training sequences with two or more items (what the trainer uses)."""
    from recstack.data.catalog import load_dataset
    from recstack.sequential.pipeline import make_split
    from recstack.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        split = make_split(load_dataset(dataset, Settings(home=Path(tmp))), "leave-one-out")
    return sum(1 for s in split.train if len(s) >= 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="1x1,2x1,1x2",
                        help="PxT: P processes of T torch threads each")
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", default="0", help="seeds per process count (noise)")
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="extra key=value for the model")
    args = parser.parse_args()
    params: dict[str, Any] = {"epochs": args.epochs, "patience": 0,
                              "max_length": 50, "hidden": 64, "batch_size": 128}
    params.update(dict(o.split("=", 1) for o in args.overrides))
    sequences = training_sequences(args.dataset)
    rows = []
    for config in args.configs.split(","):
        procs, threads = (int(n) for n in config.split("x"))
        for seed in [int(s) for s in args.seeds.split(",")]:
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                torchrun(procs, Path(tmp) / "home", args.dataset,
                         {**params, "seed": seed, "threads": threads})
                row = {"processes": procs, "threads": threads, "seed": seed,
                       **read_run(Path(tmp) / "home"),
                       "wall_seconds": round(time.perf_counter() - started, 1)}
            row["samples_per_s"] = round(sequences * row["epochs"] / row["train_seconds"], 1)
            rows.append(row)
            print(json.dumps(row))
    result = {"benchmark": "SASRec DDP on gloo (CPU), torchrun", "dataset": args.dataset,
              "training_sequences": sequences, "params": params,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(),
                          "load_average_after": os.getloadavg()},
              "runs": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
