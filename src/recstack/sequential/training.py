"""One training loop for every neural next-item model.

Mixed precision (bf16 autocast on CPU, fp16 with a gradient scaler on CUDA), learning-rate
schedules, early stopping on validation NDCG@10, checkpoint and resume, seeds, rich progress.
Models follow the contract in ``recstack.sequential.modules`` (``training_batch``, ``forward``,
``score``); the loop knows nothing else about them.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from recstack.errors import ConfigError

log = logging.getLogger(__name__)
SCHEDULERS = ("constant", "exponential", "multiplicative", "cosine", "onecycle", "plateau")


@dataclass
class TrainingConfig:
    epochs: int = 200  # upper bound; early stopping usually ends sooner
    batch_size: int = 128  # sequences per step
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    scheduler: str = "constant"  # one of SCHEDULERS
    gamma: float = 0.98  # per-epoch factor for exponential / multiplicative
    plateau_factor: float = 0.5  # ReduceLROnPlateau: lr multiplier when validation stalls
    plateau_patience: int = 2  # ReduceLROnPlateau: evaluations without gain before cutting lr
    amp: bool = False  # bf16 autocast on CPU, fp16 + GradScaler on CUDA
    grad_clip: float = 5.0  # max gradient norm (0 = off)
    patience: int = 5  # evaluations without validation gain before stopping (0 = never)
    eval_every: int = 1  # epochs between validation passes
    eval_rows: int = 0  # validation rows per pass (0 = all; a fixed random subset otherwise)
    seed: int = 0  # seeds torch and the batch sampler
    device: str = "auto"  # auto, cpu, cuda
    threads: int = 0  # torch intra-op threads (0 = torch's default)
    max_minutes: float = 0.0  # wall-clock budget for training (0 = none)
    checkpoint_dir: str = ""  # save last/best here each evaluation and resume from it

    def __post_init__(self) -> None:
        if self.scheduler not in SCHEDULERS:
            raise ConfigError(f"unknown scheduler {self.scheduler!r}", field="scheduler",
                              fix=f"use one of: {', '.join(SCHEDULERS)}")
        for name in ("epochs", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1", field=name, fix=f"set {name}>=1")
        if self.lr <= 0:
            raise ConfigError("lr must be positive", field="lr", fix="for example lr=0.001")


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    seconds: float
    lr: float
    valid_ndcg_at_10: float | None = None


@dataclass
class TrainingHistory:
    epochs: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_valid_ndcg_at_10: float = float("-inf")
    stopped_early: bool = False
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Validator = Callable[[nn.Module], float]  # model → validation NDCG@10
EpochCallback = Callable[[EpochRecord], None]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("CUDA was asked for but is not available", field="device",
                          fix="use device=cpu or install a CUDA build of torch")
    return torch.device(name)


def _scheduler(name: str, optimizer: torch.optim.Optimizer, cfg: TrainingConfig,
               steps_per_epoch: int) -> Any:
    if name == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.gamma)
    if name == "multiplicative":
        return torch.optim.lr_scheduler.MultiplicativeLR(optimizer, lambda _: cfg.gamma)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, epochs=cfg.epochs,
                                                   steps_per_epoch=steps_per_epoch)
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=cfg.plateau_factor, patience=cfg.plateau_patience)
    return None


class Trainer:
    """Fits a model on training sequences; keeps the weights of the best validation epoch."""

    def __init__(self, config: TrainingConfig):
        self.config = config
        self.device = resolve_device(config.device)

    def fit(self, model: nn.Module, sequences: list[np.ndarray], *,
            validate: Validator | None = None, on_epoch: EpochCallback | None = None,
            progress: bool = True) -> TrainingHistory:
        cfg = self.config
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        sequences = [s for s in sequences if len(s) >= 2]  # one item predicts nothing
        if not sequences:
            raise ConfigError("no training sequence has two or more items", field="sequences",
                              fix="train on data with longer user histories")
        model.to(self.device)
        steps = math.ceil(len(sequences) / cfg.batch_size)
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr,
                                      weight_decay=cfg.weight_decay)
        scheduler = _scheduler(cfg.scheduler, optimizer, cfg, steps)
        scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp and self.device.type == "cuda")
        history = TrainingHistory(device=str(self.device))
        state = _State(model, optimizer, scheduler, scaler, history, rng)
        start_epoch = state.resume(cfg.checkpoint_dir)
        best_weights = state.best_weights
        stale, started = 0, time.monotonic()
        with _progress(progress) as bar:
            task = bar.add_task("training", total=steps)
            for epoch in range(start_epoch, cfg.epochs + 1):
                bar.reset(task, total=steps, description=f"epoch {epoch}")
                record = self._epoch(model, sequences, state, epoch, lambda: bar.advance(task))
                if validate is not None and epoch % cfg.eval_every == 0:
                    record.valid_ndcg_at_10 = float(validate(model))
                    if record.valid_ndcg_at_10 > history.best_valid_ndcg_at_10:
                        history.best_valid_ndcg_at_10 = record.valid_ndcg_at_10
                        history.best_epoch, stale = epoch, 0
                        best_weights = copy.deepcopy(model.state_dict())
                    else:
                        stale += 1
                    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                        scheduler.step(record.valid_ndcg_at_10)
                if scheduler is not None and not isinstance(
                        scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau | _OneCycle):
                    scheduler.step()
                history.epochs.append(record)
                state.best_weights = best_weights
                state.save(cfg.checkpoint_dir, epoch)
                if on_epoch is not None:
                    on_epoch(record)
                log.debug("epoch %d: %s", epoch, record)
                if cfg.patience and stale >= cfg.patience:
                    history.stopped_early = True
                    break
                if cfg.max_minutes and time.monotonic() - started > cfg.max_minutes * 60:
                    log.info("stopping after epoch %d: the %.1f-minute budget is spent", epoch,
                             cfg.max_minutes)
                    break
        if best_weights is not None:
            model.load_state_dict(best_weights)
        elif history.epochs:
            history.best_epoch = history.epochs[-1].epoch
        model.eval()
        return history

    def _epoch(self, model: nn.Module, sequences: list[np.ndarray], state: _State, epoch: int,
               tick: Callable[[], None]) -> EpochRecord:
        cfg = self.config
        model.train()
        started, total, batches = time.perf_counter(), 0.0, 0
        order = state.rng.permutation(len(sequences))
        amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        make_batch = cast(Any, model).training_batch  # the model contract, not nn.Module's
        for begin in range(0, len(order), cfg.batch_size):
            chunk = [sequences[i] for i in order[begin: begin + cfg.batch_size]]
            batch = {k: v.to(self.device, non_blocking=True)
                     for k, v in make_batch(chunk, state.rng).items()}
            with torch.autocast(self.device.type, dtype=amp_dtype, enabled=cfg.amp):
                loss = model(**batch).loss
            assert loss is not None, "training batches must produce a loss"
            state.optimizer.zero_grad(set_to_none=True)
            state.scaler.scale(loss).backward()
            if cfg.grad_clip:
                state.scaler.unscale_(state.optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            state.scaler.step(state.optimizer)
            state.scaler.update()
            if isinstance(state.scheduler, _OneCycle):
                state.scheduler.step()
            total += float(loss.detach())
            batches += 1
            tick()
        if not math.isfinite(total):
            raise ConfigError(f"the loss became {total} in epoch {epoch}", field="lr",
                              fix="lower the learning rate or turn amp off")
        return EpochRecord(epoch=epoch, loss=total / max(batches, 1),
                           seconds=time.perf_counter() - started,
                           lr=float(state.optimizer.param_groups[0]["lr"]))


_OneCycle = torch.optim.lr_scheduler.OneCycleLR


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

    def save(self, directory: str, epoch: int) -> None:
        if not directory:
            return
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        payload = {"epoch": epoch, "model": self.model.state_dict(),
                   "optimizer": self.optimizer.state_dict(),
                   "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                   "scaler": self.scaler.state_dict(), "history": self.history.to_dict(),
                   "rng": self.rng.bit_generator.state, "best_weights": self.best_weights,
                   "torch_rng": torch.get_rng_state()}
        tmp = path / "last.pt.tmp"
        torch.save(payload, tmp)
        tmp.replace(path / "last.pt")  # atomic: a crash never leaves half a checkpoint

    def resume(self, directory: str) -> int:
        """Load ``last.pt`` if present; returns the first epoch still to run."""
        path = Path(directory) / "last.pt" if directory else None
        if path is None or not path.exists():
            return 1
        payload = torch.load(path, map_location="cpu", weights_only=False)
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scheduler is not None and payload["scheduler"] is not None:
            self.scheduler.load_state_dict(payload["scheduler"])
        self.scaler.load_state_dict(payload["scaler"])
        self.rng.bit_generator.state = payload["rng"]
        torch.set_rng_state(payload["torch_rng"])
        self.best_weights = payload["best_weights"]
        saved = payload["history"]
        self.history.epochs = [EpochRecord(**e) for e in saved["epochs"]]
        self.history.best_epoch = saved["best_epoch"]
        self.history.best_valid_ndcg_at_10 = saved["best_valid_ndcg_at_10"]
        log.info("resumed from %s after epoch %d", path, payload["epoch"])
        return int(payload["epoch"]) + 1


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), transient=True, disable=not enabled)
