"""Fitting a learning-rate schedule planned over ``epochs`` into a wall-clock budget.

A run with a budget (``max_minutes``) and a schedule that decays over the planned ``epochs``
(``cosine``, ``onecycle``) silently assumes that those epochs fit in the budget. When an epoch
takes longer than whoever wrote the recipe measured (a busier machine, a larger dataset, another
CPU), the budget stops training part way through the schedule, before the decay that gives the
last points of quality: ``sasrec-ls-ml1m-t2`` planned 60 one-cycle epochs at 46.6 s in 58
minutes, took 84 s an epoch and was stopped at epoch 40, at a learning rate still about half
its peak. A recipe whose schedule assumes a machine speed and a dataset size does not carry over.

``recstack.training`` therefore measures each epoch (training plus its share of validation) and,
when the planned epochs would end past the budget, re-plans the schedule over the epochs that fit
(with a safety margin) so that the decay completes inside it. The schedule keeps its shape as a
function of its own position (step or epoch); only the part not yet run is compressed: the
position still to go is spread evenly over the steps that remain. The learning rate therefore
never jumps, a warm-up already done stays done (an unfinished one is shortened in proportion),
and the last step of the new plan takes the schedule's final value. A run that fits is untouched.

Pure arithmetic over the scheduler's step counter, torch-free: ``recstack.training`` applies it.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["MARGIN", "PLANNED_SCHEDULES", "EpochBudget", "Replan", "epochs_that_fit", "replan"]

PLANNED_SCHEDULES = ("cosine", "onecycle")  # the trainer's schedules with a planned end
# Share of the budget a new plan leaves unused: epoch times vary with the machine's load, and a
# plan that ends just past the budget is stopped before its last (lowest-rate) steps.
MARGIN = 0.05


@dataclass
class Replan:
    """A re-planned schedule: maps the scheduler's step counter onto the original's positions.

    Steps are the scheduler's own (batches for ``onecycle``, epochs for ``cosine``). Up to
    ``anchor_step`` the original schedule ran as planned (or as an earlier re-plan said); from
    there its position runs linearly from ``anchor_position`` to ``last_position`` (the
    original's last step) at ``end_step``, and stays there.
    """

    kind: str  # "cosine" or "onecycle"
    planned_epochs: int  # the epochs the schedule now ends in
    anchor_step: int
    anchor_position: float
    end_step: int
    last_position: float
    step: int  # schedule steps taken so far

    def position(self, step: int | None = None) -> float:
        """Where in the original schedule ``step`` (default: the current one) is."""
        step = self.step if step is None else step
        if step >= self.end_step:
            return self.last_position
        share = (step - self.anchor_step) / (self.end_step - self.anchor_step)
        return self.anchor_position + share * (self.last_position - self.anchor_position)

    def advance(self, scheduler: Any) -> None:
        """One schedule step: set the optimizer's learning rate for the next step(s)."""
        self.step += 1
        apply_position(scheduler, self.kind, self.position())


class EpochBudget:
    """A run's wall-clock budget: whether it is spent, and the epochs it leaves room for."""

    def __init__(self, minutes: float, *, replans: bool = True, eval_every: int = 1,
                 clock: Callable[[], float] = time.monotonic):
        """
        Args:
            minutes: the budget (0 = none: never spent, nothing re-planned).
            replans: whether ``propose`` may re-plan (the run's schedule has a planned end and
                ``fit_schedule_to_budget`` is on).
            eval_every: epochs between validations (1 without a validator).
            clock: seconds, monotonic; the clock starts now.
        """
        self.minutes, self.replans, self.eval_every = minutes, replans, eval_every
        self.clock = clock
        self.started = clock()
        self.epochs_run = 0  # in this process: a resumed run measures its own epochs
        self.validation_s, self.validations = 0.0, 0

    def elapsed(self) -> float:
        return self.clock() - self.started

    def spent(self) -> bool:
        return bool(self.minutes) and self.elapsed() > self.minutes * 60

    @contextlib.contextmanager
    def validating(self) -> Iterator[None]:
        """Time a validation pass (its share of an epoch's cost is amortised over eval_every)."""
        began = self.clock()
        try:
            yield
        finally:
            self.validation_s += self.clock() - began
            self.validations += 1

    def per_epoch(self, elapsed: float) -> float:
        """Seconds an epoch costs: training and overhead, plus its share of validation."""
        train = (elapsed - self.validation_s) / max(self.epochs_run, 1)
        return train + (self.validation_s / self.validations / self.eval_every
                        if self.validations else 0.0)

    def propose(self, planned: int, epoch: int) -> int | None:
        """After ``epoch``: the epochs to re-plan over, or None (see ``epochs_that_fit``)."""
        if not (self.minutes and self.replans and self.epochs_run):
            return None
        elapsed = self.elapsed()
        return epochs_that_fit(planned=planned, epoch=epoch, budget_s=self.minutes * 60,
                               elapsed_s=elapsed, per_epoch_s=self.per_epoch(elapsed),
                               eval_every=self.eval_every)


def epochs_that_fit(*, planned: int, epoch: int, budget_s: float, elapsed_s: float,
                    per_epoch_s: float, eval_every: int = 1) -> int | None:
    """The epochs to re-plan the schedule over, or None when the current plan fits.

    Args:
        planned: the epochs the schedule currently ends in.
        epoch: epochs done (the last one's number).
        budget_s: the wall-clock budget, seconds.
        elapsed_s: seconds spent since training started.
        per_epoch_s: measured seconds per epoch, validation's share included.
        eval_every: epochs between validations (1 without a validator): a new plan ends on a
            validated epoch, so that the fully decayed weights can be chosen as the best.

    Returns:
        ``None`` when ``planned`` ends inside the budget (or no epoch is left to re-plan), else
        the number of epochs that end inside the budget less ``MARGIN``, at least the next
        validated epoch.
    """
    if epoch >= planned or elapsed_s + (planned - epoch) * per_epoch_s <= budget_s:
        return None
    more = math.floor((budget_s * (1 - MARGIN) - elapsed_s) / per_epoch_s)
    fitting = (epoch + max(more, 0)) // eval_every * eval_every
    next_validated = -(-(epoch + 1) // eval_every) * eval_every
    new = max(fitting, next_validated)
    return new if new < planned else None


def replan(scheduler: Any, kind: str, previous: Replan | None, *, planned_epochs: int,
           steps_per_epoch: int | None) -> Replan:
    """Re-plan ``scheduler`` (a torch ``CosineAnnealingLR`` or ``OneCycleLR``) to end after
    ``planned_epochs`` epochs, from where it is now; sets the learning rate to match."""
    if kind not in PLANNED_SCHEDULES:
        raise ValueError(f"the {kind} schedule has no planned end to re-plan")
    step = previous.step if previous is not None else int(scheduler.last_epoch)
    position = previous.position(step) if previous is not None else float(step)
    if kind == "onecycle":
        # OneCycleLR's step k sets the rate of optimizer step k + 1: the last of total_steps
        # optimizer steps runs at position total_steps - 1, the schedule's final rate.
        end_step, last = planned_epochs * (steps_per_epoch or 1) - 1, scheduler.total_steps - 1
    else:
        # CosineAnnealingLR steps after each epoch: epoch e trains at position e - 1.
        end_step, last = planned_epochs - 1, scheduler.T_max - 1
    plan = Replan(kind, planned_epochs, step, position, end_step, float(last), step)
    apply_position(scheduler, kind, plan.position())  # the same rate, unless no step is left
    return plan


def apply_position(scheduler: Any, kind: str, position: float) -> None:
    """Set the optimizer's rates to those of the original schedule at ``position``."""
    if kind == "onecycle":
        # OneCycleLR's rate (and AdamW's β1, which it cycles too) is a closed form of its step
        # counter, fractional ones included: let torch compute it rather than copy its formula.
        scheduler.last_epoch = position
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "get_lr called outside step": on purpose here
            rates = scheduler.get_lr()
    else:
        # CosineAnnealingLR steps recursively; its closed form (eta_min ... base_lr) is this
        rates = [scheduler.eta_min + (base - scheduler.eta_min)
                 * (1 + math.cos(math.pi * position / scheduler.T_max)) / 2
                 for base in scheduler.base_lrs]
    for group, rate in zip(scheduler.optimizer.param_groups, rates, strict=True):
        group["lr"] = rate
