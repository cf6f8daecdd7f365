"""The shared trainer on a model that is not a recommender: a linear 2-class classifier.

Early stopping and best-epoch selection on a named metric in either direction, resume to the
same weights as an uninterrupted run, the wall-clock budget, and the errors for a bad monitor.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from recstack.errors import ConfigError
from recstack.training import EpochRecord, Trainer, TrainerConfig, TrainingHistory


class Interrupted(Exception):
    pass


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> SimpleNamespace:
        logits = self.linear(x)
        return SimpleNamespace(logits=logits,
                               loss=None if y is None else F.cross_entropy(logits, y))


def _data(n: int, seed: int, flip: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Points labelled by the side of the line x0 + x1 = 0; ``flip`` of the labels swapped."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=gen)
    y = (x.sum(1) > 0).long()
    flipped = torch.rand(n, generator=gen) < flip
    return x, torch.where(flipped, 1 - y, y)


def _loader(seed: int = 0) -> DataLoader:
    """(x, y) tuples: the model is called as ``model(x, y)``."""
    return DataLoader(TensorDataset(*_data(256, seed)), batch_size=32, shuffle=True)


def _keyword_loader(seed: int = 0) -> DataLoader:
    """Dict batches, as a transformers collator makes them: ``model(x=..., y=...)``."""
    return DataLoader(TensorDataset(*_data(256, seed)), batch_size=32, shuffle=True,
                      collate_fn=lambda rows: {"x": torch.stack([r[0] for r in rows]),
                                               "y": torch.stack([r[1] for r in rows])})


def _validator(x: torch.Tensor, y: torch.Tensor):
    @torch.no_grad()
    def validate(model: nn.Module) -> dict[str, float]:
        out = model(x, y)
        return {"accuracy": float((out.logits.argmax(1) == y).float().mean()),
                "loss": float(out.loss)}

    return validate


def _model(seed: int) -> Classifier:
    torch.manual_seed(seed)
    return Classifier()


def _config(**changes) -> TrainerConfig:
    return TrainerConfig(**{"device": "cpu", "epochs": 60, "lr": 0.05, **changes})


def test_early_stopping_on_accuracy_keeps_the_most_accurate_epoch():
    validate = _validator(*_data(200, seed=1))
    model = _model(0)
    history = Trainer(_config(monitor="accuracy", mode="max", patience=3)).fit(
        model, _keyword_loader(), validate=validate, progress=False)
    accuracy = [e.valid["accuracy"] for e in history.epochs]
    assert history.stopped_early and len(accuracy) == history.best_epoch + 3 < 60
    assert history.best_value == max(accuracy) > 0.9
    assert history.best_epoch == accuracy.index(max(accuracy)) + 1  # the first to reach it
    assert validate(model) == history.best_metrics  # the best epoch's weights are back


def test_early_stopping_on_loss_keeps_the_lowest_loss_epoch():
    # The training points are separable, so the weights grow without bound; on validation
    # labels with 20% noise the loss falls, then rises as the model grows over-confident.
    validate = _validator(*_data(200, seed=1, flip=0.2))
    model = _model(0)
    config = _config(monitor="loss", mode="min", patience=3, lr=0.02)
    history = Trainer(config).fit(model, _loader(), validate=validate, progress=False)
    losses = [e.valid["loss"] for e in history.epochs]
    assert history.stopped_early and history.mode == "min"
    assert history.best_value == min(losses) < losses[0] and history.best_epoch > 1
    assert len(losses) == history.best_epoch + 3 and losses[-1] > min(losses)
    assert validate(model)["loss"] == pytest.approx(history.best_value)
    assert TrainerConfig(monitor="loss").direction == "min"
    assert TrainerConfig(monitor="intent_accuracy").direction == "max"


@pytest.mark.parametrize("source", ["dataloader", "callable"])
def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(source, tmp_path):
    x, y = _data(256, seed=0)

    def batches(epoch: int, rng: np.random.Generator):
        # sampled from the trainer's rng: resuming must restore it too
        for _ in range(6):
            pick = torch.as_tensor(rng.choice(len(x), 32, replace=False))
            yield {"x": x[pick], "y": y[pick]}

    data = _loader() if source == "dataloader" else batches
    loss_fn = None if source == "dataloader" else (lambda m, b: m(b["x"], b["y"]).loss)
    validate = _validator(*_data(200, seed=1, flip=0.2))  # the loss is lowest early on
    params = {"epochs": 6, "scheduler": "cosine", "patience": 0, "monitor": "loss"}

    whole = _model(0)
    expected = Trainer(_config(**params)).fit(whole, data, loss_fn=loss_fn, validate=validate,
                                              progress=False)
    ckpt = str(tmp_path / "ckpt")

    def crash_after_epoch_3(record: EpochRecord) -> None:
        if record.epoch == 3:
            raise Interrupted  # the process dies; last.pt was written before this callback

    with pytest.raises(Interrupted):
        Trainer(_config(**params, checkpoint_dir=ckpt)).fit(
            _model(0), data, loss_fn=loss_fn, validate=validate, on_epoch=crash_after_epoch_3,
            progress=False)
    resumed = _model(7)  # other initial weights: everything must come from the checkpoint
    history = Trainer(_config(**params, checkpoint_dir=ckpt)).fit(
        resumed, data, loss_fn=loss_fn, validate=validate, progress=False)

    assert [(e.epoch, e.loss, e.lr, e.valid) for e in history.epochs] == [
        (e.epoch, e.loss, e.lr, e.valid) for e in expected.epochs]
    assert history.best_epoch == expected.best_epoch <= 3  # its weights came from last.pt
    for name, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name


def test_training_stops_once_the_time_budget_is_spent():
    budget = 0.12  # seconds

    def slow(epoch: int, rng: np.random.Generator):
        time.sleep(0.05)
        yield _data(32, seed=epoch)

    history = Trainer(_config(epochs=100, max_minutes=budget / 60)).fit(
        _model(0), slow, progress=False)
    assert history.stop_reason == "max_minutes" and 1 <= len(history.epochs) < 100
    # it stopped after the first epoch that ended past the budget, not before
    assert sum(e.seconds for e in history.epochs[:-1]) <= budget


def test_an_unknown_monitored_metric_names_the_field_and_the_known_ones():
    trainer = Trainer(_config(monitor="f1", epochs=2))
    with pytest.raises(ConfigError) as err:
        trainer.fit(_model(0), _loader(), validate=_validator(*_data(50, seed=1)),
                    progress=False)
    assert err.value.field == "monitor" and "f1" in err.value.message
    assert err.value.fix is not None and "accuracy, loss" in err.value.fix
    with pytest.raises(ConfigError, match="mode"):
        TrainerConfig(mode="up")


def test_histories_saved_before_monitor_existed_still_load():
    old = {"epochs": [{"epoch": 1, "loss": 2.0, "seconds": 0.1, "lr": 0.001,
                       "valid_ndcg_at_10": 0.25},
                      {"epoch": 2, "loss": 1.5, "seconds": 0.1, "lr": 0.001,
                       "valid_ndcg_at_10": None}],
           "best_epoch": 1, "best_valid_ndcg_at_10": 0.25, "stopped_early": True,
           "device": "cpu"}
    history = TrainingHistory.from_dict(old)
    assert (history.monitor, history.mode, history.best_value) == ("ndcg_at_10", "max", 0.25)
    assert history.stopped_early and history.best_metrics == {"ndcg_at_10": 0.25}
    assert history.epochs[1].valid == {}
    assert TrainingHistory.from_dict(history.to_dict()) == history
