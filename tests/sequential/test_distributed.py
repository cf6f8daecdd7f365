"""SASRec under torchrun: two gloo processes train what one process trains, and log one run.

The slow test runs ``torchrun --nproc-per-node 2 -m recstack.sequential.distributed`` on
MovieLens-100k twice: 2 epochs with a checkpoint folder, then 3 epochs resuming from it (every
rank loads rank 0's checkpoint and trains epoch 3 only). The result is compared with one process
training 3 epochs. Tolerances: one process with seeds 0, 1, 2 (same settings, 3 epochs) ended
with training losses 7.208-7.246 and validation NDCG@10 0.025-0.044, and 2 processes with the
same seeds were 0.009-0.019 (loss) and 0.002-0.011 (NDCG@10) from 1 process. Two processes cannot
match one bit for bit: each rank draws its own dropout, and DDP averages two half-batch mean
losses where one process takes one full-batch mean. So the test allows about the seed-to-seed
spread: 0.06 in loss, 0.03 in NDCG@10.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recstack.sequential.training import SequenceBatches
from recstack.settings import Settings

PARAMS = {"max_length": 50, "hidden": 32, "patience": 0, "threads": 1, "batch_size": 128,
          "seed": 0}


class _Rows:
    """A stand-in for a model's ``training_batch``: the batch is the rows it was given."""

    def training_batch(self, sequences, rng):
        return [int(s[0]) for s in sequences]


def test_each_rank_builds_its_rows_of_every_batch():
    sequences = [np.array([i, i + 1]) for i in range(10)]
    whole = SequenceBatches(_Rows(), sequences, batch_size=4)  # type: ignore[arg-type]
    full = list(whole(1, np.random.default_rng(3)))
    shards = [list(whole.shard(r, 2)(1, np.random.default_rng(3))) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == len(full) == len(whole.shard(0, 2)) == 3
    for step, batch in enumerate(full):  # the global batch is the configured batch
        assert sorted(shards[0][step] + shards[1][step]) == sorted(batch)
    # a world larger than the last batch: its rows repeat, so every rank still takes a step
    thin = [list(whole.shard(r, 3)(1, np.random.default_rng(3)))[-1] for r in range(3)]
    assert all(len(rows) == 1 for rows in thin)
    assert {r for rows in thin for r in rows} == set(full[-1])


def _torchrun(home: Path, epochs: int, checkpoints: Path) -> subprocess.CompletedProcess:
    params = {**PARAMS, "epochs": epochs, "checkpoint_dir": str(checkpoints)}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "recstack.sequential.distributed", "sasrec", "--dataset", "ml-100k",
         "--no-register", *[f"--set={k}={v}" for k, v in params.items()]],
        env={**os.environ, "RECSTACK_HOME": str(home)}, capture_output=True, text=True,
        timeout=600)


def _runs(settings: Settings):
    from recstack.registry.tracking import configure_mlflow

    client = configure_mlflow(settings)
    return client, client.search_runs([e.experiment_id for e in client.search_experiments()])


@pytest.mark.slow
def test_two_gloo_processes_match_one_and_resume_from_rank_0s_checkpoint(shared_data, tmp_path):
    from recstack.sequential.pipeline import TrainConfig, train

    settings = Settings(home=tmp_path / "home")
    checkpoints = tmp_path / "checkpoints"
    first = _torchrun(settings.home, 2, checkpoints)
    assert first.returncode == 0, first.stderr[-3000:]
    client, runs = _runs(settings)
    assert len(runs) == 1  # rank 0 tracks; rank 1 logs nothing
    assert (checkpoints / "last.pt").exists()

    second = _torchrun(settings.home, 3, checkpoints)
    assert second.returncode == 0, second.stderr[-3000:]
    client, runs = _runs(settings)
    assert len(runs) == 2  # one run per torchrun invocation
    resumed = max(runs, key=lambda r: r.info.start_time)
    losses = client.get_metric_history(resumed.info.run_id, "epoch_loss")
    assert [m.step for m in losses] == [3]  # epochs 1-2 came from the checkpoint

    alone = train(TrainConfig(model="sasrec", dataset="ml-100k",
                              params={**PARAMS, "epochs": 3}),
                  Settings(home=tmp_path / "alone"), register=False, progress=False)
    history = alone.bundle.model.history_  # type: ignore[attr-defined]
    assert len(history.epochs) == 3
    assert abs(losses[0].value - history.epochs[-1].loss) < 0.06
    assert history.epochs[-1].loss < history.epochs[0].loss  # it learned: not a flat comparison
    ddp_ndcg = resumed.data.metrics["valid_ndcg_at_10"]
    assert ddp_ndcg > 0.01  # far above random ranking of 1,682 items (about 0.003)
    assert abs(ddp_ndcg - alone.valid.metrics["ndcg_at_10"]) < 0.03
