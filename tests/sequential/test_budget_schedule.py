"""SASRec with the candidate recipe's schedule (one-cycle, label smoothing, bf16) under a budget
its planned epochs do not fit: the shared trainer ends the decay inside the budget.

A slice of ML-100K keeps it to seconds; an injected clock makes every batch "take" one second,
as a slow machine would, so the re-plan is exact whatever the load on the test machine.
"""

from __future__ import annotations

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from recstack.sequential.base import model_class
from recstack.sequential.models.sasrec import SASRecConfig, SASRecModel
from recstack.sequential.training import SequenceBatches, TrainingConfig
from recstack.training import Trainer, model_loss

USERS, BATCH, EPOCHS = 96, 32, 10  # 3 steps an epoch, 30 planned


def _fit(split, max_minutes: float) -> tuple[list[float], list[float], object]:
    sequences = [s for s in split.train[:USERS] if len(s) >= 2]
    torch.manual_seed(0)  # the initial weights
    model = SASRecModel(SASRecConfig(n_items=split.n_items, max_length=20, hidden=16,
                                     label_smoothing=0.1))
    config = TrainingConfig(epochs=EPOCHS, lr=5e-3, scheduler="onecycle", amp=True,
                            batch_size=BATCH, patience=0, device="cpu", seed=0,
                            max_minutes=max_minutes)
    now = [0.0]

    def one_second_a_batch(module, batch):
        now[0] += 1.0
        return model_loss(module, batch)

    rates: list[float] = []
    handle = register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: rates.append(optimizer.param_groups[0]["lr"]))
    try:
        history = Trainer(config, clock=lambda: now[0]).fit(
            model, SequenceBatches(model, sequences, BATCH), loss_fn=one_second_a_batch,
            progress=False)
    finally:
        handle.remove()
    return rates, [e.loss for e in history.epochs], history


def test_sasrec_onecycle_decays_fully_inside_a_budget_too_small_for_its_epochs(ml100k_split):
    rates, losses, history = _fit(ml100k_split, max_minutes=18 / 60)  # 6 of the 10 epochs
    planned = history.planned_epochs
    assert history.replanned and planned == 1 + int((18 * 0.95 - 3) // 3) == 5
    assert len(losses) == planned and len(rates) == planned * 3
    assert rates[-1] == pytest.approx(5e-3 / 25 / 1e4, rel=1e-9)  # OneCycleLR's final rate
    decay = rates[rates.index(max(rates)):]
    assert decay == sorted(decay, reverse=True)
    assert losses[-1] < losses[0]  # it trains
    free_rates, free_losses, free = _fit(ml100k_split, max_minutes=0)
    assert not free.replanned and len(free_rates) == EPOCHS * 3
    assert rates[:4] == free_rates[:4] and losses[0] == free_losses[0]  # same until the re-plan


def test_the_switch_is_a_training_setting():
    rec = model_class("sasrec").from_params({"fit_schedule_to_budget": False})
    assert rec.config.training.fit_schedule_to_budget is False
    assert model_class("sasrec").from_params({}).config.training.fit_schedule_to_budget
