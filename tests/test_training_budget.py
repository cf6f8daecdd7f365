"""A schedule planned over ``epochs`` fitted into the wall-clock budget, on the trainer's
linear classifier (tests/test_training.py), with an injected clock: every batch "takes" one
second and every validation two, so the re-planning is exact and the tests are fast.

What is checked: the rate at the last step is the schedule's final one, it never rises after
the warm-up, it does not jump at a re-plan, training ends inside the budget on a validated
epoch; without a budget, with one that fits, or with the switch off, every rate is torch's own
schedule, bit for bit, and so are the weights.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.test_training import Interrupted, _data, _model, _validator
from torch.optim.optimizer import register_optimizer_step_pre_hook

from recstack.schedule_budget import MARGIN, epochs_that_fit
from recstack.training import EpochRecord, Trainer, TrainerConfig, TrainingHistory

STEPS = 8  # batches per epoch, one "second" each
VALID_S = 2.0  # "seconds" per validation


class Clock:
    """The trainer's clock: moves only when a batch or a validation says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self.batch_s = 1.0  # seconds a batch takes from now on

    def __call__(self) -> float:
        return self.now


def _batches(clock: Clock):
    x, y = _data(256, seed=0)

    def batches(epoch: int, rng: np.random.Generator):
        for _ in range(STEPS):
            clock.now += clock.batch_s
            pick = torch.as_tensor(rng.choice(len(x), 32, replace=False))
            yield x[pick], y[pick]

    return batches


def _timed_validator(clock: Clock):
    validate = _validator(*_data(200, seed=1))

    def timed(model):
        clock.now += VALID_S
        return validate(model)

    return timed


@contextmanager
def recorded_rates() -> Iterator[list[float]]:
    """The learning rate of every optimizer step, as the optimizer saw it."""
    rates: list[float] = []
    handle = register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: rates.append(optimizer.param_groups[0]["lr"]))
    try:
        yield rates
    finally:
        handle.remove()


def _fit(clock: Clock | None = None, *, validate: bool = True, checkpoint: str = "",
         on_epoch=None, **changes) -> tuple[TrainingHistory, list[float], torch.nn.Module]:
    clock = clock or Clock()
    config = TrainerConfig(**{"device": "cpu", "epochs": 20, "lr": 0.05, "patience": 0,
                              "monitor": "accuracy", "checkpoint_dir": checkpoint, **changes})
    model = _model(0)
    with recorded_rates() as rates:
        history = Trainer(config, clock=clock).fit(
            model, _batches(clock), validate=_timed_validator(clock) if validate else None,
            steps_per_epoch=STEPS, on_epoch=on_epoch, progress=False)
    return history, rates, model


def _torch_onecycle(epochs: int, lr: float = 0.05) -> list[float]:
    """The rate of every step under torch's own OneCycleLR: the trainer's before session 9."""
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs,
                                                    steps_per_epoch=STEPS)
    rates = []
    for _ in range(epochs * STEPS):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def _after_peak(rates: list[float]) -> list[float]:
    return rates[rates.index(max(rates)):]


def _largest_drop(rates: list[float]) -> float:
    return float(-np.diff(rates).min())


def test_onecycle_too_long_for_the_budget_ends_its_decay_inside_it():
    clock = Clock()
    budget_s = 100.0  # 20 planned epochs of 8 + 2 s would need 200
    history, rates, _ = _fit(clock, scheduler="onecycle", max_minutes=budget_s / 60)

    planned = 1 + math.floor((budget_s * (1 - MARGIN) - 10) / 10)  # decided after epoch 1
    assert (history.configured_epochs, history.planned_epochs) == (20, planned) == (20, 9)
    assert history.replanned and history.stop_reason == "max_minutes"
    assert [e.epoch for e in history.epochs] == list(range(1, planned + 1))
    assert clock.now <= budget_s  # the whole schedule ran inside the budget
    assert len(rates) == planned * STEPS
    final = 0.05 / 25 / 1e4  # OneCycleLR's last rate: max_lr / div_factor / final_div_factor
    assert rates[-1] == pytest.approx(final, rel=1e-9)
    # the first epoch ran as planned and the next step goes on from there: no jump
    reference = _torch_onecycle(20)
    assert rates[:STEPS + 1] == reference[:STEPS + 1]
    warm_up, decay = rates[:rates.index(max(rates)) + 1], _after_peak(rates)
    assert warm_up == sorted(warm_up) and decay == sorted(decay, reverse=True)
    assert _largest_drop(rates) < 0.05 / 10  # decays step by step, not by a jump at the end
    assert max(rates) == pytest.approx(0.05, rel=1e-2)  # the shortened warm-up reaches the peak
    # what the budget alone would have done: stopped mid-decay, far from the final rate
    _, unplanned, _ = _fit(Clock(), scheduler="onecycle", max_minutes=budget_s / 60,
                           fit_schedule_to_budget=False)
    assert unplanned == reference[:len(unplanned)] and unplanned[-1] > 0.3 * 0.05


def test_epochs_that_slow_down_later_shrink_the_plan_again_without_a_jump(caplog):
    caplog.set_level("WARNING", logger="recstack.training")
    clock = Clock()
    slowed: list[int] = []

    def slow_down_after_epoch_3(record: EpochRecord) -> None:
        if record.epoch == 3:
            clock.batch_s = 2.0  # the machine gets busy: epochs now take 18 s, not 10
            slowed.append(record.epoch)

    history, rates, _ = _fit(clock, scheduler="onecycle", max_minutes=180 / 60,
                             on_epoch=slow_down_after_epoch_3)
    replans = [r.getMessage() for r in caplog.records if "re-planned" in r.getMessage()]
    # after epoch 1: 10 s epochs, 17 fit; at 18 s from epoch 4 on the mean catches up, and
    # each time the plan would overrun the budget it is cut again
    assert slowed == [3] and len(replans) >= 2 and history.planned_epochs < 17
    assert "end after epoch 17" in replans[0]
    assert len(history.epochs) == history.planned_epochs and clock.now <= 180
    assert rates[-1] == pytest.approx(0.05 / 25 / 1e4, rel=1e-9)
    decay = _after_peak(rates)
    assert decay == sorted(decay, reverse=True)  # never rises, across every re-plan
    assert _largest_drop(rates) < 0.05 / 10  # and never drops by a jump either


def test_cosine_ends_on_its_final_rate_at_a_validated_epoch():
    history, _, _ = _fit(scheduler="cosine", epochs=30, eval_every=2, max_minutes=150 / 60)
    rates = [e.lr for e in history.epochs]  # cosine steps per epoch: one rate per epoch
    planned = history.planned_epochs
    assert history.replanned and planned % 2 == 0 and len(rates) == planned < 30
    assert history.epochs[-1].valid  # the fully decayed weights were validated
    # the same last rate as the 30-epoch plan's last epoch, reached in `planned` epochs
    assert rates[-1] == pytest.approx(0.05 * (1 + math.cos(math.pi * 29 / 30)) / 2, rel=1e-9)
    assert rates == sorted(rates, reverse=True) and rates[0] == 0.05
    assert _largest_drop(rates) < 0.05 / 5  # 30 epochs' decay in 16, not a jump at the end


@pytest.mark.parametrize("scheduler", ["onecycle", "cosine"])
def test_without_a_budget_or_within_it_the_schedule_is_untouched(scheduler):
    free, free_rates, free_model = _fit(scheduler=scheduler, epochs=6)
    roomy, roomy_rates, roomy_model = _fit(scheduler=scheduler, epochs=6, max_minutes=2.0)
    if scheduler == "onecycle":
        assert free_rates == _torch_onecycle(6)
    assert roomy_rates == free_rates and not roomy.replanned and roomy.planned_epochs == 6
    assert [(e.loss, e.lr, e.valid) for e in roomy.epochs] == [
        (e.loss, e.lr, e.valid) for e in free.epochs]
    for name, value in free_model.state_dict().items():
        assert torch.equal(roomy_model.state_dict()[name], value), name
    assert free.plan_params() == {"configured_epochs": 6, "planned_epochs": 6}


def test_a_resumed_run_keeps_its_fitted_schedule(tmp_path):
    params = {"scheduler": "onecycle", "max_minutes": 100 / 60}
    whole, whole_rates, whole_model = _fit(**params)
    ckpt = str(tmp_path / "ckpt")

    def crash_after_epoch_4(record: EpochRecord) -> None:
        if record.epoch == 4:  # after the re-plan (epoch 1)
            raise Interrupted

    with pytest.raises(Interrupted):
        _fit(checkpoint=ckpt, on_epoch=crash_after_epoch_4, **params)
    resumed, resumed_rates, resumed_model = _fit(checkpoint=ckpt, **params)
    assert resumed.planned_epochs == whole.planned_epochs == 9
    assert resumed_rates == whole_rates[4 * STEPS:]
    assert [(e.epoch, e.lr) for e in resumed.epochs] == [(e.epoch, e.lr) for e in whole.epochs]
    for name, value in whole_model.state_dict().items():
        assert torch.equal(resumed_model.state_dict()[name], value), name


def test_a_plan_is_cut_only_when_it_would_overrun():
    fit = dict(epoch=2, budget_s=100.0, elapsed_s=20.0, per_epoch_s=10.0)
    assert epochs_that_fit(planned=10, **fit) is None  # ends at 100 s: fits
    assert epochs_that_fit(planned=11, **fit) == 9  # 9 end at 90 s, inside 95
    assert epochs_that_fit(planned=11, eval_every=4, **fit) == 8  # on a validated epoch
    # nothing fits any more: one more validated epoch, the shortest decay there is
    assert epochs_that_fit(planned=11, epoch=2, budget_s=100.0, elapsed_s=99.0,
                           per_epoch_s=10.0, eval_every=2) == 4


@pytest.mark.slow  # three processes importing torch: ~20 s alone, minutes on a busy machine
def test_under_torchrun_every_rank_follows_rank_0s_plan(tmp_path):
    # each rank's clock runs at its own speed; ranks stepping at different rates would diverge
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         str(root / "tests" / "ddp_budget_worker.py"), str(tmp_path)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)]),
             "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["planned"] == ranks[1]["planned"] == ranks[0]["epochs"] == 9  # rank 0's
    assert ranks[0]["rates"] == ranks[1]["rates"] and ranks[0]["weights"] == ranks[1]["weights"]
    assert ranks[0]["rates"][-1] == pytest.approx(0.05 / 25 / 1e4, rel=1e-9)
