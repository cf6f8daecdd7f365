"""What the ``Trainer`` needs to train one model in several processes (``torchrun``).

``torchrun`` starts one process per rank and sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``;
``init_distributed`` opens the process group on the backend that fits the device (NCCL for CUDA,
gloo for CPU). Once a group is open, ``Trainer.fit`` wraps the model in
``DistributedDataParallel``, gives each rank a shard of every epoch's batches (``shard_batches``)
and averages the epoch loss across ranks; rank 0 validates, decides when to stop and writes the
checkpoints, and every rank follows its decisions (``broadcast``). Without a group nothing here
runs and the ``Trainer`` is the single-process loop it always was. Imports torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist

from recstack.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Rank:
    """This process's place in the group."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that validates, writes checkpoints and logs to MLflow."""
        return self.rank == 0


def current() -> Rank | None:
    """The open group's ranks, or None when this process trains alone."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    return Rank(dist.get_rank(), dist.get_world_size(),
                int(os.environ.get("LOCAL_RANK", dist.get_rank())))


def backend_for(device: torch.device) -> str:
    """NCCL between GPUs, gloo between CPU processes."""
    return "nccl" if device.type == "cuda" else "gloo"


def init_distributed(device: torch.device) -> Rank:
    """Open the process group ``torchrun`` describes in the environment; returns this rank.

    Raises:
        ConfigError: when the process was not started by ``torchrun`` (no ``RANK``), or CUDA
            training has fewer GPUs than ranks on this machine.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise ConfigError("distributed training needs the environment torchrun sets "
                          "(RANK, WORLD_SIZE, MASTER_ADDR)", field="RANK",
                          fix="start it with: torchrun --nproc-per-node 2 -m "
                              "recstack.sequential.distributed MODEL ...")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"rank {local_rank} has no GPU of its own (this machine has "
                              f"{torch.cuda.device_count()})", field="--nproc-per-node",
                              fix="start at most one process per GPU, or train with --set "
                                  "device=cpu")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend_for(device))
    return Rank(dist.get_rank(), dist.get_world_size(), local_rank)


def close_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_device(device: torch.device, rank: Rank) -> torch.device:
    """The rank's own GPU (``cuda:LOCAL_RANK``) when training on CUDA, else ``device``."""
    return torch.device("cuda", rank.local_rank) if device.type == "cuda" else device


def on_main(run: Callable[[], T], rank: Rank | None) -> T:
    """``run()`` on rank 0 and its result on every rank (or on this process alone: ``rank`` is
    None). An error on rank 0 is raised on every rank, so that none waits forever on it."""
    if rank is None:
        return run()
    outcome: Any = None
    if rank.is_main:
        try:
            outcome = run()
        except Exception as exc:  # re-raised on every rank below
            outcome = exc
    outcome = broadcast(outcome, rank)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def broadcast(value: T, rank: Rank) -> T:
    """Rank 0's ``value`` on every rank (any picklable object)."""
    box = [value if rank.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[return-value]


def mean_across(value: float, count: int, device: torch.device) -> float:
    """The mean of ``value`` over ranks, each weighted by its ``count``."""
    pair = torch.tensor([value * count, float(count)], dtype=torch.float64, device=device)
    dist.all_reduce(pair)
    return float(pair[0] / pair[1].clamp(min=1))


def shard_batches(batches: Any, steps: int | None, rank: Rank) -> tuple[Any, int | None]:
    """This rank's share of the trainer's batches, and its number of steps per epoch (``steps``:
    the batches per epoch of the whole run, when known).

    A batches object with ``shard(rank, world)`` splits itself (``SequenceBatches`` splits each
    batch's rows, so the global batch stays the configured size). Anything else is dealt out
    batch by batch, round robin, as ``DistributedSampler`` deals out samples: every rank sees
    the same sequence of batches (same seed), keeps every ``world``-th one, and the shorter
    ranks repeat their first batch so that all ranks take the same number of steps (DDP
    all-reduces on every backward and would wait forever on a rank that stopped early).
    """
    shard = getattr(batches, "shard", None)
    if callable(shard):
        mine = shard(rank.rank, rank.world)
        return mine, (len(mine) if isinstance(mine, Sized) else steps)
    steps = -(-steps // rank.world) if steps else None

    def deal(items: Iterable[Any]) -> Iterator[Any]:
        everything = list(items)  # the step count must be known before the first step
        per_rank = -(-len(everything) // rank.world)
        mine = everything[rank.rank::rank.world] or everything[:1]
        return iter(mine + mine[:1] * (per_rank - len(mine)))

    if callable(batches):
        fn: Callable[[int, np.random.Generator], Iterable[Any]] = batches

        def dealt(epoch: int, rng: np.random.Generator) -> Iterator[Any]:
            return deal(fn(epoch, rng))

        return dealt, steps
    return _Dealt(batches, deal), steps


class _Dealt:
    """A re-iterable whose every pass is this rank's round-robin share of ``batches``."""

    def __init__(self, batches: Iterable[Any], deal: Callable[[Iterable[Any]], Iterator[Any]]):
        self.batches, self.deal = batches, deal

    def __iter__(self) -> Iterator[Any]:
        return self.deal(self.batches)
