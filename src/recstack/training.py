"""One training loop for every neural model in recstack, whatever it predicts.

The ``Trainer`` takes a model, its batches (a re-iterable such as a ``DataLoader``, or a callable
``batches(epoch, rng)`` for data sampled afresh each epoch) and a loss (``loss_fn(model, batch)``,
or by default the ``.loss`` the model's forward returns). Around that it runs what every system
would otherwise write again: mixed precision (bf16 autocast on CPU, fp16 with a gradient scaler on
CUDA), six learning-rate schedules, gradient clipping, early stopping and best-epoch selection on
any metric the validator returns (``monitor``, ``mode``), checkpoint and resume, a wall-clock
budget that a schedule planned over ``epochs`` is fitted into (``fit_schedule_to_budget``, see
``recstack.schedule_budget``), seeds and rich progress. Under ``torchrun`` (a process group opened
by ``recstack.distributed.init_distributed``) the same loop trains with DistributedDataParallel,
each rank on a shard of the batches. Imports torch: only code that trains a neural model imports it.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sized
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from recstack import distributed, schedule_budget
from recstack.errors import ConfigError
from recstack.schedule_budget import EpochBudget, Replan

log = logging.getLogger(__name__)
SCHEDULERS = ("constant", "exponential", "multiplicative", "cosine", "onecycle", "plateau")
MODES = ("auto", "max", "min")

Validator = Callable[[nn.Module], Mapping[str, float]]  # model → validation metrics by name
LossFn = Callable[[nn.Module, Any], torch.Tensor]  # (model, batch on the device) → scalar loss
Batches = Iterable[Any] | Callable[[int, np.random.Generator], Iterable[Any]]


@dataclass
class TrainerConfig:
    """What the loop needs; systems subclass it to add their own fields (batch sizes, ...)."""

    epochs: int = 200  # upper bound; early stopping usually ends sooner
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    scheduler: str = "constant"  # one of SCHEDULERS
    gamma: float = 0.98  # per-epoch factor for exponential / multiplicative
    plateau_factor: float = 0.5  # ReduceLROnPlateau: lr multiplier when validation stalls
    plateau_patience: int = 2  # ReduceLROnPlateau: evaluations without gain before cutting lr
    amp: bool = False  # bf16 autocast on CPU, fp16 + GradScaler on CUDA
    grad_clip: float = 5.0  # max gradient norm (0 = off)
    monitor: str = "loss"  # validation metric that picks the best epoch and stops early
    mode: str = "auto"  # max, min, or auto: min for a name ending in "loss", else max (Keras)
    patience: int = 5  # evaluations without validation gain before stopping (0 = never)
    eval_every: int = 1  # epochs between validation passes
    seed: int = 0  # seeds torch and the rng handed to the batches
    device: str = "auto"  # auto, cpu, cuda
    threads: int = 0  # torch intra-op threads (0 = torch's default)
    max_minutes: float = 0.0  # wall-clock budget, checked after each epoch (0 = none)
    # with max_minutes: re-plan a cosine/onecycle schedule over the epochs that fit the budget
    # when the measured epochs show the planned ones will not, so its decay ends inside it
    fit_schedule_to_budget: bool = True
    checkpoint_dir: str = ""  # save last/best here each epoch and resume from it

    def __post_init__(self) -> None:
        for name, allowed in (("scheduler", SCHEDULERS), ("mode", MODES)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"unknown {name} {getattr(self, name)!r}", field=name,
                                  fix=f"use one of: {', '.join(allowed)}")
        for name in ("epochs", "eval_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1", field=name, fix=f"set {name}>=1")
        if self.lr <= 0:
            raise ConfigError("lr must be positive", field="lr", fix="for example lr=0.001")

    @property
    def direction(self) -> Literal["max", "min"]:
        """``max`` or ``min``: whether a larger monitored value is better."""
        if self.mode == "max" or (self.mode == "auto" and not self.monitor.endswith("loss")):
            return "max"
        return "min"


@dataclass
class EpochRecord:
    epoch: int
    loss: float  # mean training loss over the epoch's batches
    seconds: float  # training time of the epoch, validation excluded
    lr: float  # learning rate at the end of the epoch
    valid: dict[str, float] = field(default_factory=dict)  # validator's metrics; {} = not run

    def flat(self) -> dict[str, float]:
        """Metric name → value, validation metrics prefixed ``valid_`` (for MLflow)."""
        return {"loss": self.loss, "seconds": self.seconds, "lr": self.lr,
                **{f"valid_{k}": v for k, v in self.valid.items()}}


EpochCallback = Callable[[EpochRecord], None]


@dataclass
class TrainingHistory:
    epochs: list[EpochRecord] = field(default_factory=list)
    monitor: str = ""  # the metric that chose the best epoch
    mode: str = "max"  # its direction
    best_epoch: int = 0
    best_value: float | None = None  # monitored value at best_epoch; None without validation
    stop_reason: str = ""  # "patience", "max_minutes", or "" when every epoch ran
    device: str = "cpu"
    configured_epochs: int = 0  # ``epochs`` as configured (0: saved before this field existed)
    planned_epochs: int = 0  # the epochs the schedule ended in: fewer when fitted to the budget

    @property
    def replanned(self) -> bool:
        return 0 < self.planned_epochs < self.configured_epochs

    def plan_params(self) -> dict[str, int]:
        """``configured_epochs`` and ``planned_epochs`` (for MLflow params; {} when unknown)."""
        if not self.configured_epochs:
            return {}
        return {"configured_epochs": self.configured_epochs,
                "planned_epochs": self.planned_epochs or self.configured_epochs}

    @property
    def stopped_early(self) -> bool:
        return self.stop_reason == "patience"

    @property
    def best_metrics(self) -> dict[str, float]:
        """Every validation metric of the best epoch ({} when none was validated)."""
        return next((e.valid for e in self.epochs if e.epoch == self.best_epoch), {})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingHistory:
        """Rebuild from ``to_dict``, also from bundles and checkpoints written before ``monitor``
        existed (NDCG@10 was the only metric then)."""
        data = dict(data)
        if "best_valid_ndcg_at_10" in data:
            best = data.pop("best_valid_ndcg_at_10")
            data.update(monitor="ndcg_at_10", mode="max",
                        best_value=best if math.isfinite(best) else None)
        if data.pop("stopped_early", False):
            data["stop_reason"] = "patience"
        epochs = []
        for e in data.pop("epochs", []):
            e = dict(e)
            legacy = e.pop("valid_ndcg_at_10", None)
            if legacy is not None:
                e["valid"] = {"ndcg_at_10": legacy}
            epochs.append(EpochRecord(**e))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(epochs=epochs, **{k: v for k, v in data.items() if k in known})


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("CUDA was asked for but is not available", field="device",
                          fix="use device=cpu or install a CUDA build of torch")
    return torch.device(name)


def model_loss(model: nn.Module, batch: Any) -> torch.Tensor:
    """The default ``loss_fn``: call the model on the batch and read ``.loss`` of its output.

    A mapping is passed as keyword arguments (``model(**batch)``, as with transformers'
    tokenised batches), a tuple or list as positional ones, anything else as the only argument.
    """
    if isinstance(batch, Mapping):
        out = model(**batch)
    elif isinstance(batch, list | tuple):
        out = model(*batch)
    else:
        out = model(batch)
    loss = getattr(out, "loss", None)
    if loss is None and isinstance(out, Mapping):
        loss = out.get("loss")
    if loss is None:
        raise ConfigError("the model's forward returned no loss for a training batch",
                          field="loss_fn", fix="pass loss_fn=... or return .loss given labels")
    return loss


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in a (nested) mapping, list or tuple to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a namedtuple
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def log_epoch_to_mlflow(record: EpochRecord) -> None:
    """An ``on_epoch`` callback: per-epoch curves (``epoch_loss``, ``epoch_valid_*``, ...)."""
    import mlflow

    mlflow.log_metrics({f"epoch_{k}": float(v) for k, v in record.flat().items()},
                       step=record.epoch)


def _scheduler(optimizer: torch.optim.Optimizer, cfg: TrainerConfig,
               steps_per_epoch: int | None) -> Any:
    name = cfg.scheduler
    if name == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.gamma)
    if name == "multiplicative":
        return torch.optim.lr_scheduler.MultiplicativeLR(optimizer, lambda _: cfg.gamma)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if name == "onecycle":
        if not steps_per_epoch:
            raise ConfigError("the onecycle schedule needs the number of batches per epoch",
                              field="scheduler", fix="give batches a len() or steps_per_epoch")
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, epochs=cfg.epochs,
                                                   steps_per_epoch=steps_per_epoch)
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=cfg.direction, factor=cfg.plateau_factor,
            patience=cfg.plateau_patience)
    return None


_OneCycle = torch.optim.lr_scheduler.OneCycleLR
_Plateau = torch.optim.lr_scheduler.ReduceLROnPlateau


class Trainer:
    """Fits a model on batches; keeps the weights of the best validation epoch.

    With a budget (``max_minutes``) and a schedule that decays over the planned ``epochs``
    (``cosine``, ``onecycle``), once the measured epochs (validation's share included) show that
    the planned ones will end past the budget, the rest of the schedule is compressed into the
    epochs that fit (5% margin, ending on a validated epoch) and training stops there: else the
    budget would cut it before its decay on any slower machine or larger dataset. No rate jumps;
    a run that fits or has no budget is untouched, bit for bit. ``fit_schedule_to_budget=False``
    turns it off; see ``recstack.schedule_budget`` and ``TrainingHistory.planned_epochs``.
    """

    def __init__(self, config: TrainerConfig, *, clock: Callable[[], float] = time.monotonic):
        """``clock`` (seconds) measures the budget; tests inject one to make epochs "slow"."""
        self.config = config
        self.device = resolve_device(config.device)
        self.clock = clock

    def fit(self, model: nn.Module, batches: Batches, *, loss_fn: LossFn | None = None,
            validate: Validator | None = None, on_epoch: EpochCallback | None = None,
            steps_per_epoch: int | None = None, progress: bool = True) -> TrainingHistory:
        """Train for up to ``config.epochs`` epochs and return what happened.

        Args:
            model: the module to train; moved to the configured device.
            batches: a re-iterable of batches (a ``DataLoader``), or a callable
                ``batches(epoch, rng)`` returning one epoch's batches, for data sampled anew each
                epoch from the trainer's seeded (and checkpointed) numpy ``rng``. Tensors in a
                batch (a mapping, tuple or list of them) are moved to the device.
            loss_fn: ``loss_fn(model, batch) -> scalar tensor``; default ``model_loss``, the
                ``.loss`` of the model's output.
            validate: ``validate(model) -> {metric: value}``, run in eval mode without gradients
                every ``eval_every`` epochs; it must return ``config.monitor``. Without it the
                last epoch's weights are kept and nothing stops early.
            on_epoch: called with each epoch's record (e.g. ``log_epoch_to_mlflow``).
            steps_per_epoch: batches per epoch, for the progress bar and ``onecycle``; default
                ``len(batches)`` when it has one.
            progress: show a rich progress bar.

        Returns:
            The history. The model holds the best epoch's weights and is in eval mode.
        """
        cfg = self.config
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        steps = steps_per_epoch or (len(batches) if isinstance(batches, Sized) else None)
        group = distributed.current()  # None unless torchrun started several ranks
        torch.manual_seed(cfg.seed + (group.rank if group else 0))  # a rank's own dropout
        if group is not None:
            batches, steps = distributed.shard_batches(batches, steps, group)
            self.device = distributed.rank_device(self.device, group)
            progress = progress and group.is_main
        model.to(self.device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr,
                                      weight_decay=cfg.weight_decay)
        state = _State(model, optimizer, _scheduler(optimizer, cfg, steps),
                       torch.amp.GradScaler("cuda", enabled=cfg.amp and self.device.type == "cuda"),
                       TrainingHistory(monitor=cfg.monitor, mode=cfg.direction,
                                       device=str(self.device)),
                       np.random.default_rng(cfg.seed))
        start_epoch = state.resume(cfg.checkpoint_dir)
        if state.replan is None:  # as configured (a re-planned checkpoint keeps its plan)
            state.history.configured_epochs = state.history.planned_epochs = cfg.epochs
        trained: nn.Module = model
        if group is not None:  # after resume: every rank has loaded the same checkpoint
            trained = nn.parallel.DistributedDataParallel(
                model, device_ids=[group.local_rank] if self.device.type == "cuda" else None)
        budget = EpochBudget(cfg.max_minutes, clock=self.clock,
                             eval_every=cfg.eval_every if validate is not None else 1,
                             replans=cfg.fit_schedule_to_budget
                             and cfg.scheduler in schedule_budget.PLANNED_SCHEDULES)
        with _progress(progress) as bar:
            task = bar.add_task("training", total=steps)
            for epoch in range(start_epoch, cfg.epochs + 1):
                if state.history.stopped_early or epoch > state.history.planned_epochs:
                    break  # resumed from a run whose patience (or re-planned schedule) had ended
                bar.reset(task, total=steps, description=f"epoch {epoch}")
                record = self._epoch(trained, batches, loss_fn or model_loss, state, epoch,
                                     lambda: bar.advance(task))
                if validate is not None and epoch % cfg.eval_every == 0:
                    # under DDP rank 0 validates (all ranks hold the same weights) for all
                    with budget.validating():
                        record.valid = distributed.on_main(
                            lambda: self._validate(model, validate), group)
                    state.observe(record)
                state.step_schedule(per_batch=False)
                state.history.epochs.append(record)
                budget.epochs_run += 1
                if cfg.patience and _stale(state.history) >= cfg.patience:
                    state.history.stop_reason = "patience"
                elif budget.spent():
                    state.history.stop_reason = "max_minutes"
                    log.info("stopping after epoch %d: the %.1f-minute budget is spent", epoch,
                             cfg.max_minutes)
                planned = (None if state.history.stop_reason
                           else budget.propose(state.history.planned_epochs, epoch))
                if group is not None:  # rank 0's clock decides for all: every rank stops together
                    # (and re-plans together: ranks stepping at different rates would diverge)
                    state.history.stop_reason, planned = distributed.broadcast(
                        (state.history.stop_reason, planned), group)
                if planned is not None:
                    state.fit_schedule(cfg, planned, steps, epoch, budget)
                if not state.history.stop_reason and epoch >= state.history.planned_epochs \
                        and state.history.replanned:
                    state.history.stop_reason = "max_minutes"
                    log.info("stopping after epoch %d: the schedule fitted to the %.1f-minute "
                             "budget has ended", epoch, cfg.max_minutes)
                if group is None or group.is_main:
                    state.save(cfg.checkpoint_dir, epoch)
                if on_epoch is not None:
                    on_epoch(record)
                log.debug("epoch %d: %s", epoch, record)
                if state.history.stop_reason:
                    break
        history = state.history
        if state.best_weights is not None:
            model.load_state_dict(state.best_weights)
        elif history.epochs:
            history.best_epoch = history.epochs[-1].epoch
        model.eval()
        return history

    def _epoch(self, model: nn.Module, batches: Batches, loss_fn: LossFn, state: _State,
               epoch: int, tick: Callable[[], None]) -> EpochRecord:
        cfg = self.config
        model.train()
        started, total, count = time.perf_counter(), 0.0, 0
        amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        for batch in batches(epoch, state.rng) if callable(batches) else batches:
            batch = to_device(batch, self.device)
            with torch.autocast(self.device.type, dtype=amp_dtype, enabled=cfg.amp):
                loss = loss_fn(model, batch)
            state.optimizer.zero_grad(set_to_none=True)
            state.scaler.scale(loss).backward()
            if cfg.grad_clip:
                state.scaler.unscale_(state.optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            state.scaler.step(state.optimizer)
            state.scaler.update()
            state.step_schedule(per_batch=True)
            total += float(loss.detach())
            count += 1
            tick()
        mean = total / max(count, 1)
        if isinstance(model, nn.parallel.DistributedDataParallel):
            mean = distributed.mean_across(mean, count, self.device)  # every rank stops on nan
        if not math.isfinite(mean):
            raise ConfigError(f"the loss became {mean} in epoch {epoch}", field="lr",
                              fix="lower the learning rate or turn amp off")
        return EpochRecord(epoch=epoch, loss=mean,
                           seconds=time.perf_counter() - started,
                           lr=float(state.optimizer.param_groups[0]["lr"]))

    def _validate(self, model: nn.Module, validate: Validator) -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            metrics = {name: float(value) for name, value in validate(model).items()}
        model.train()
        if self.config.monitor not in metrics:
            raise ConfigError(f"the validator returned no metric {self.config.monitor!r}",
                              field="monitor",
                              fix=f"monitor one of: {', '.join(sorted(metrics)) or '(none)'}")
        return metrics


def _stale(history: TrainingHistory) -> int:
    """Validations since the best one: what patience counts (rebuilt as is after a resume)."""
    return sum(1 for e in history.epochs if e.valid and e.epoch > history.best_epoch)


@dataclass
class _State:
    """Everything a resumed run needs; written to ``checkpoint_dir/last.pt``."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    history: TrainingHistory
    rng: np.random.Generator
    best_weights: dict[str, torch.Tensor] | None = None
    replan: Replan | None = None  # set once the schedule was fitted to the budget

    def step_schedule(self, per_batch: bool) -> None:
        """Step ``onecycle`` after each batch, the other epoch-wise schedules after an epoch."""
        scheduler = self.scheduler
        if scheduler is None or isinstance(scheduler, _Plateau) \
                or isinstance(scheduler, _OneCycle) != per_batch:
            return
        if self.replan is None:
            scheduler.step()
        else:
            self.replan.advance(scheduler)

    def fit_schedule(self, cfg: TrainerConfig, planned: int, steps: int | None, epoch: int,
                     budget: EpochBudget) -> None:
        """Re-plan the schedule to end after ``planned`` epochs, from where it is now."""
        self.replan = schedule_budget.replan(self.scheduler, cfg.scheduler, self.replan,
                                             planned_epochs=planned, steps_per_epoch=steps)
        elapsed = budget.elapsed()
        log.warning("after epoch %d: an epoch takes %.1f s (validation included) and %.1f of "
                    "the %.1f budget minutes are left, so the %s schedule planned over %d "
                    "epochs is re-planned to end after epoch %d, inside the budget "
                    "(fit_schedule_to_budget=false keeps the plan)", epoch,
                    budget.per_epoch(elapsed), cfg.max_minutes - elapsed / 60, cfg.max_minutes,
                    cfg.scheduler, self.history.planned_epochs, planned)
        self.history.planned_epochs = planned

    def observe(self, record: EpochRecord) -> None:
        """Take a validated epoch: keep its weights if it is the best, step ``plateau``."""
        history = self.history
        value, best = record.valid[history.monitor], history.best_value
        if not math.isnan(value) and (best is None or (value > best if history.mode == "max"
                                                       else value < best)):
            history.best_value, history.best_epoch = value, record.epoch
            self.best_weights = copy.deepcopy(self.model.state_dict())
        if isinstance(self.scheduler, _Plateau):
            self.scheduler.step(value)

    def save(self, directory: str, epoch: int) -> None:
        if not directory:
            return
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        payload = {"epoch": epoch, "model": self.model.state_dict(),
                   "optimizer": self.optimizer.state_dict(),
                   "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                   "scaler": self.scaler.state_dict(), "history": self.history.to_dict(),
                   "replan": dataclasses.asdict(self.replan) if self.replan else None,
                   "rng": self.rng.bit_generator.state, "best_weights": self.best_weights,
                   "torch_rng": torch.get_rng_state(),
                   "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available()
                   else None}
        tmp = path / "last.pt.tmp"
        torch.save(payload, tmp)
        tmp.replace(path / "last.pt")  # atomic: a crash never leaves half a checkpoint

    def resume(self, directory: str) -> int:
        """Load ``last.pt`` if present; returns the first epoch still to run."""
        path = Path(directory) / "last.pt" if directory else None
        if path is None or not path.exists():
            return 1
        payload = torch.load(path, map_location="cpu", weights_only=False)
        history = TrainingHistory.from_dict(payload["history"])
        if history.monitor != self.history.monitor:
            raise ConfigError(f"{path} chose its best epoch by {history.monitor!r}, not by "
                              f"{self.history.monitor!r}", field="monitor",
                              fix="monitor the same metric or use a new checkpoint_dir")
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scheduler is not None and payload["scheduler"] is not None:
            self.scheduler.load_state_dict(payload["scheduler"])
        self.scaler.load_state_dict(payload["scaler"])
        self.rng.bit_generator.state = payload["rng"]
        torch.set_rng_state(payload["torch_rng"])
        if payload.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(payload["cuda_rng"])
        self.best_weights = payload["best_weights"]
        self.replan = Replan(**payload["replan"]) if payload.get("replan") else None
        if history.stop_reason == "max_minutes":
            history.stop_reason = ""  # a new budget: that is what resuming is for
        history.device = self.history.device
        self.history = history
        log.info("resumed from %s after epoch %d", path, payload["epoch"])
        return int(payload["epoch"]) + 1


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), transient=True, disable=not enabled)
