"""The spine's DDP helpers that need no process group: dealing batches out to ranks, errors."""

from __future__ import annotations

import numpy as np
import pytest

from recstack.distributed import Rank, current, init_distributed, shard_batches
from recstack.errors import ConfigError


def test_plain_batches_are_dealt_round_robin_with_equal_steps_per_rank():
    batches = [f"b{i}" for i in range(5)]
    shares = [shard_batches(batches, 5, Rank(r, 2)) for r in range(2)]
    assert [steps for _, steps in shares] == [3, 3]
    # rank 1 has one batch fewer: it repeats its first, so both take 3 steps (DDP needs that)
    assert [list(share) for share, _ in shares] == [["b0", "b2", "b4"], ["b1", "b3", "b1"]]
    assert list(shares[0][0]) == ["b0", "b2", "b4"]  # re-iterable, like a DataLoader


def test_batch_callables_see_the_same_rng_on_every_rank():
    def batches(epoch, rng):
        return [int(x) for x in rng.permutation(6)]

    mine = [shard_batches(batches, None, Rank(r, 3))[0] for r in range(3)]
    dealt = [list(share(1, np.random.default_rng(7))) for share in mine]
    everything = batches(1, np.random.default_rng(7))
    assert sorted(x for part in dealt for x in part) == sorted(everything)
    assert dealt == [everything[r::3] for r in range(3)]


def test_alone_there_is_no_group_and_torchrun_is_named_when_missing(monkeypatch):
    import torch

    assert current() is None
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(ConfigError, match="torchrun"):
        init_distributed(torch.device("cpu"))
