"""Train / validation / test splits for next-item recommendation.

Both splits produce the same ``Split``: training sequences, and for validation and test one
(history, target) pair per evaluated user. Models are fitted on ``train`` only; test histories
may include the validation item, as in the SASRec / BERT4Rec protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recstack.data.dataset import SequenceDataset
from recstack.errors import DataError


@dataclass(frozen=True)
class EvalSet:
    """Rows to evaluate: ``histories[r]`` is the input, ``targets[r]`` the held-out next item."""

    users: np.ndarray  # (R,) index into dataset.user_ids
    histories: list[np.ndarray]
    targets: np.ndarray  # (R,) internal item ids

    def __len__(self) -> int:
        return len(self.targets)


@dataclass(frozen=True)
class Split:
    """A dataset cut into what models train on and what they are judged on."""

    dataset: SequenceDataset
    train: list[np.ndarray]  # one sequence per user (may be empty)
    valid: EvalSet
    test: EvalSet
    protocol: str

    @property
    def n_items(self) -> int:
        return self.dataset.n_items


def leave_one_out(dataset: SequenceDataset, min_length: int = 3) -> Split:
    """Last item of each user is the test target, the one before it the validation target.

    Users with fewer than ``min_length`` (at least 3) items are kept for training only.
    """
    if min_length < 3:
        raise DataError("leave-one-out needs at least 3 items per evaluated user",
                        field="min_length", fix="use min_length >= 3")
    train, users, val_hist, val_tgt, test_hist, test_tgt = [], [], [], [], [], []
    for u, seq in enumerate(dataset.sequences):
        if len(seq) < min_length:
            train.append(seq)
            continue
        train.append(seq[:-2])
        users.append(u)
        val_hist.append(seq[:-2])
        val_tgt.append(seq[-2])
        test_hist.append(seq[:-1])
        test_tgt.append(seq[-1])
    if not users:
        raise DataError(f"no user has {min_length} or more interactions", field="sequences",
                        fix="load more data or lower min_length")
    rows = np.asarray(users, dtype=np.int64)
    return Split(dataset=dataset, train=train,
                 valid=EvalSet(rows, val_hist, np.asarray(val_tgt, dtype=np.int64)),
                 test=EvalSet(rows.copy(), test_hist, np.asarray(test_tgt, dtype=np.int64)),
                 protocol="leave-one-out")


def _first_event_after(dataset: SequenceDataset, start: int, end: float) -> EvalSet:
    """For each user, the first event in [start, end) as target and everything before as history."""
    assert dataset.timestamps is not None
    users, hist, tgt = [], [], []
    for u, (seq, ts) in enumerate(zip(dataset.sequences, dataset.timestamps, strict=True)):
        pos = int(np.searchsorted(ts, start, side="left"))
        if pos < len(seq) and ts[pos] < end and pos > 0:
            users.append(u)
            hist.append(seq[:pos])
            tgt.append(seq[pos])
    return EvalSet(np.asarray(users, dtype=np.int64), hist, np.asarray(tgt, dtype=np.int64))


def global_temporal_split(dataset: SequenceDataset, valid_fraction: float = 0.1,
                          test_fraction: float = 0.1) -> Split:
    """Cut the timeline at two global times: train before, validation between, test after.

    The cut points are quantiles of all event times. Each user with an event in a window
    contributes one row: its first event there is the target, everything earlier the history
    (users with no earlier event are skipped: there is nothing to recommend from). Training
    sequences hold only events before the validation cut, so no future event leaks into training.
    """
    if dataset.timestamps is None:
        raise DataError("a temporal split needs timestamps", field="timestamp",
                        fix="load the data with a timestamp column or use leave-one-out")
    if not (0 < valid_fraction < 1 and 0 < test_fraction < 1
            and valid_fraction + test_fraction < 1):
        raise DataError("fractions must be in (0, 1) and sum to less than 1",
                        field="valid_fraction/test_fraction", fix="for example 0.1 and 0.1")
    all_times = np.concatenate(dataset.timestamps)
    t_valid = int(np.quantile(all_times, 1 - valid_fraction - test_fraction))
    t_test = int(np.quantile(all_times, 1 - test_fraction))
    if t_test <= t_valid:
        raise DataError("the timestamps are too coarse to cut into three periods",
                        field="timestamp", fix="use finer timestamps or leave-one-out")
    train = [seq[: int(np.searchsorted(ts, t_valid, side="left"))]
             for seq, ts in zip(dataset.sequences, dataset.timestamps, strict=True)]
    valid = _first_event_after(dataset, t_valid, t_test)
    test = _first_event_after(dataset, t_test, np.inf)
    if len(valid) == 0 or len(test) == 0:
        raise DataError("a window of the temporal split has no user with earlier history",
                        field="valid_fraction/test_fraction",
                        fix="use larger fractions or more data")
    return Split(dataset=dataset, train=train, valid=valid, test=test,
                 protocol=f"global-temporal(valid>={t_valid}, test>={t_test})")
