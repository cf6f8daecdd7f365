"""One rank of ``tests/test_training_budget.py``'s torchrun check (not a test module itself).

Each rank's injected clock runs at its own speed (rank r: 1 + 2r seconds a batch), so each
rank alone would re-plan differently; the trainer must follow rank 0's plan on every rank.
Writes ``OUT/rank<r>.json``: the plan, every step's rate and the final weights.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from tests.test_training import _data, _model, _validator
from torch.optim.optimizer import register_optimizer_step_pre_hook

from recstack import distributed
from recstack.training import Trainer, TrainerConfig


def main(out: Path) -> None:
    rank = distributed.init_distributed(torch.device("cpu"))
    now = [0.0]
    x, y = _data(256, seed=0)

    def batches(epoch: int, rng: np.random.Generator):
        for _ in range(8):
            now[0] += 1.0 + 2.0 * rank.rank
            pick = torch.as_tensor(rng.choice(len(x), 32, replace=False))
            yield x[pick], y[pick]

    check = _validator(*_data(200, seed=1))

    def validate(model):
        now[0] += 2.0  # rank 0 alone validates
        return check(model)

    rates: list[float] = []
    register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: rates.append(optimizer.param_groups[0]["lr"]))
    config = TrainerConfig(device="cpu", epochs=20, lr=0.05, patience=0, monitor="accuracy",
                           scheduler="onecycle", max_minutes=100 / 60)
    model = _model(0)
    history = Trainer(config, clock=lambda: now[0]).fit(
        model, batches, validate=validate, steps_per_epoch=8, progress=False)
    (out / f"rank{rank.rank}.json").write_text(json.dumps({
        "planned": history.planned_epochs, "epochs": len(history.epochs), "rates": rates,
        "weights": [p.detach().flatten().tolist() for p in model.parameters()]}))
    distributed.close_distributed()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
