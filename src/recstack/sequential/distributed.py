"""Train one neural next-item model on several processes with DistributedDataParallel.

Started by ``torchrun``, one process per rank (per GPU, or per group of CPU cores)::

    torchrun --nproc-per-node 2 -m recstack.sequential.distributed sasrec \
        --dataset ml-100k --set epochs=20 --set threads=1

Every rank loads the same dataset and split and builds the same model; the spine's ``Trainer``
sees the open process group and trains with DDP on NCCL (GPUs) or gloo (CPU), chosen from the
model's ``training.device``. ``training.batch_size`` stays the global batch: each rank builds its
rows of every batch. Rank 0 alone validates, writes checkpoints (``--set
checkpoint_dir=...``; every rank resumes from them) and tracks the run: one MLflow run with the
per-epoch curves, the validation metrics and (unless ``--no-register``) a registered version,
exactly as ``recstack sequential train`` logs it. Across machines, torchrun's own flags
(``--nnodes``, ``--rdzv-endpoint``) apply; the checkpoint folder must then be shared.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rich.console import Console

from recstack.cli_options import parse_overrides
from recstack.distributed import close_distributed, init_distributed
from recstack.errors import ConfigError, RecstackError
from recstack.sequential.base import model_class
from recstack.sequential.pipeline import TrainConfig, fit_on_split, prepare_training, train
from recstack.settings import Settings, get_settings
from recstack.training import resolve_device

log = logging.getLogger(__name__)


def run(config: TrainConfig, settings: Settings, *, register: bool = True,
        progress: bool = True) -> str | None:
    """Train ``config`` as this rank's part of the group; returns the MLflow run id on rank 0.

    The process group must not be open yet: this opens it on the backend that fits the model's
    device and closes it when training is over.
    """
    params = model_class(config.model).from_params(config.params).config  # fail fast, on all
    training = getattr(params, "training", None)
    if training is None:
        raise ConfigError(f"{config.model} is not a neural model: it has nothing to distribute",
                          field="model", fix="train sasrec, bert4rec, ncf or deepfm")
    rank = init_distributed(resolve_device(training.device))
    try:
        if rank.is_main:
            return train(config, settings, register=register, progress=progress).run_id
        # the other ranks train the same model on their shards and track nothing
        model, split, _ = prepare_training(config, settings)
        fit_on_split(model, split, on_epoch=None, progress=False)
        return None
    finally:
        close_distributed()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="torchrun --nproc-per-node N -m recstack.sequential.distributed",
        description="Train a neural next-item model with DistributedDataParallel.")
    parser.add_argument("model", help="sasrec, bert4rec, ncf, deepfm, or a preset")
    parser.add_argument("--dataset", default="travel", help="catalogue name or file")
    parser.add_argument("--split", default="leave-one-out", help="leave-one-out or temporal")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="key=value, as for recstack sequential train (repeatable)")
    parser.add_argument("--register-as", default=None, help="registered model name")
    parser.add_argument("--no-register", action="store_true", help="track, do not register")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        config = TrainConfig(model=args.model, dataset=args.dataset, split=args.split,
                             params=parse_overrides(args.overrides),
                             register_as=args.register_as)
        run_id = run(config, get_settings(), register=not args.no_register)
    except RecstackError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    if run_id is not None:
        console.print(f"trained {args.model} on {args.dataset}: MLflow run {run_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
