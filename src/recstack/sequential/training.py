"""What training a next-item model adds to the shared loop in ``recstack.training``.

``TrainingConfig`` is the spine's ``TrainerConfig`` plus the fields that are about sequences
(``batch_size``, ``eval_rows``), and selects epochs on validation NDCG@10 by default.
``SequenceBatches`` shuffles the training sequences each epoch and lets the model turn each chunk
into a padded batch (``training_batch`` in the contract of ``recstack.sequential.modules``);
``fit_sequences`` runs the spine's ``Trainer`` on them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from recstack.errors import ConfigError
from recstack.training import (
    SCHEDULERS,
    EpochCallback,
    EpochRecord,
    Trainer,
    TrainerConfig,
    TrainingHistory,
    Validator,
)

__all__ = ["SCHEDULERS", "EpochRecord", "SequenceBatches", "TrainingConfig", "TrainingHistory",
           "fit_sequences"]


@dataclass
class TrainingConfig(TrainerConfig):
    batch_size: int = 128  # sequences per step
    eval_rows: int = 0  # validation rows per pass (0 = all; a fixed random subset otherwise)
    monitor: str = "ndcg_at_10"  # full-ranking validation metric (any the evaluation reports)
    # Batches of similar lengths (see SequenceBatches): less padding, the same sequences per
    # epoch. Off by default: it changes which sequences share a step, and on ML-1M-T2 it cost
    # SASRec 0.014 test NDCG@10 for 35% faster epochs (docs/sequential.md).
    group_by_length: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch_size < 1:
            raise ConfigError("batch_size must be at least 1", field="batch_size",
                              fix="set batch_size>=1")


class SequenceBatches:
    """One epoch: the sequences in a fresh random order, ``batch_size`` at a time.

    The model's ``training_batch(chunk, rng)`` builds each batch (windows, padding, negatives)
    from the same rng, so a seed fixes the whole epoch.

    ``group_by_length`` draws batches of similar lengths, as transformers' ``group_by_length``
    (``LengthGroupedSampler``) does: the random order is cut into mega-batches of up to 50
    batches, each sorted by length and cut into batches, and the batches are then shuffled. A
    batch is padded to its longest row, so random batches of ML-1M histories (a quarter longer
    than SASRec's 200) were padded to 200 while their rows averaged 106 items. Grouped (and with
    the loss of the same day), an epoch of ``sasrec-ls-ml1m-t2`` took 57 s instead of 82-89 s;
    what it does to quality is in docs/sequential.md.

    Under DDP (``shard``) every rank draws the same order and builds its share of each batch's
    rows (rank r of w takes rows r, r + w, ...), so the gradient DDP averages is that of one
    ``batch_size`` batch, as in a single process, and an epoch has as many steps. Each rank
    builds its rows from its own rng (seeded per epoch from the shared one, so a checkpoint's
    rng still fixes the epoch), because ranks consume different amounts of randomness.
    """

    def __init__(self, model: nn.Module, sequences: list[np.ndarray], batch_size: int,
                 rank: int = 0, world: int = 1, group_by_length: bool = False):
        self.make_batch = cast(Any, model).training_batch  # the model contract, not nn.Module's
        self.sequences = sequences
        self.batch_size = batch_size
        self.lengths = (np.array([len(s) for s in sequences]) if group_by_length else None)
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return math.ceil(len(self.sequences) / self.batch_size)

    def shard(self, rank: int, world: int) -> SequenceBatches:
        """Rank ``rank``'s rows of every batch (see ``recstack.distributed.shard_batches``)."""
        if self.batch_size < world:
            raise ConfigError(f"batch_size {self.batch_size} cannot be split over {world} ranks",
                              field="batch_size", fix=f"set batch_size>={world}")
        shard = SequenceBatches.__new__(SequenceBatches)
        shard.__dict__.update(self.__dict__, rank=rank, world=world)
        return shard

    def batch_rows(self, rng: np.random.Generator) -> list[np.ndarray]:
        """One epoch's batches as arrays of sequence indices (every sequence once)."""
        order = rng.permutation(len(self.sequences))
        if self.lengths is None:
            return [order[b: b + self.batch_size] for b in range(0, len(order), self.batch_size)]
        # transformers' mega-batch size: up to 50 batches, fewer when the data is small
        mega = self.batch_size * max(1, min(len(order) // (self.batch_size * 4), 50))
        batches: list[np.ndarray] = []
        for begin in range(0, len(order), mega):
            chunk = order[begin: begin + mega]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches += [chunk[b: b + self.batch_size]
                        for b in range(0, len(chunk), self.batch_size)]
        # shuffled, or every mega-batch would run from its longest batch to its shortest
        return [batches[i] for i in rng.permutation(len(batches))]

    def __call__(self, epoch: int, rng: np.random.Generator) -> Iterator[dict[str, torch.Tensor]]:
        batches = self.batch_rows(rng)
        rows_rng = rng
        if self.world > 1:
            rows_rng = np.random.default_rng([int(rng.integers(2**62)), self.rank])
        for picked in batches:
            if self.world > 1:
                # a last batch smaller than the world repeats rows (as DistributedSampler pads)
                picked = np.resize(picked, max(len(picked), self.world))[self.rank::self.world]
            yield self.make_batch([self.sequences[i] for i in picked], rows_rng)


def fit_sequences(model: nn.Module, sequences: list[np.ndarray], config: TrainingConfig, *,
                  validate: Validator | None = None, on_epoch: EpochCallback | None = None,
                  progress: bool = True) -> TrainingHistory:
    """Train a next-item module on sequences of internal item ids (see ``Trainer.fit``)."""
    sequences = [s for s in sequences if len(s) >= 2]  # one item predicts nothing
    if not sequences:
        raise ConfigError("no training sequence has two or more items", field="sequences",
                          fix="train on data with longer user histories")
    batches = SequenceBatches(model, sequences, config.batch_size,
                              group_by_length=config.group_by_length)
    return Trainer(config).fit(model, batches, validate=validate, on_epoch=on_epoch,
                               progress=progress)
