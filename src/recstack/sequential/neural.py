"""Neural next-item models as recstack recommenders.

``register_neural("sasrec", SASRecModel, SASRecConfig)`` makes a recommender whose config has two
parts, ``model`` (the model file's dataclass) and ``training`` (``TrainingConfig``); presets such
as gSASRec are the same model with other defaults. Fitting runs the spine's ``Trainer`` with a
validator that reports the full-ranking metrics, and early stopping on ``training.monitor``
(NDCG@10 by default); scoring pads histories and calls the module's ``score``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
from torch import nn

from recstack.configs import build_config
from recstack.data.splits import EvalSet
from recstack.evaluation import count_items, evaluate_scores
from recstack.sequential.base import FitContext, Recommender, register_model
from recstack.sequential.modules import ItemFeatures, field_names, pad_left
from recstack.sequential.training import TrainingConfig, TrainingHistory, fit_sequences
from recstack.training import Validator

SCORE_BATCH = 512  # histories scored per forward pass


class NeuralRecommender(Recommender):
    """Adapter from a model module (the contract in ``modules.py``) to ``Recommender``."""

    module_cls: ClassVar[type[nn.Module]]

    def fit(self, sequences: list[np.ndarray], n_items: int,
            context: FitContext | None = None) -> Self:
        context = context or FitContext()
        model_cfg = dataclasses.replace(self.config.model, n_items=n_items)
        fields = field_names(model_cfg.metadata_fields)
        self.item_features_ = (ItemFeatures.from_metadata(context.item_metadata, fields, n_items)
                               if fields else None)
        self.n_items_ = n_items
        # The initial weights come from the seed too: otherwise they depend on whatever drew
        # from torch's global generator earlier in the process, and one seed gives two results.
        torch.manual_seed(self.config.training.seed)
        self.module_ = self.module_cls(model_cfg, self.item_features_)
        validate = None
        if context.valid is not None and len(context.valid):
            validate = self._validator(context.valid, sequences, n_items)
        self.history_: TrainingHistory = fit_sequences(
            self.module_, sequences, self.config.training, validate=validate,
            on_epoch=context.on_epoch, progress=context.progress)
        return self

    def _validator(self, valid: EvalSet, sequences: list[np.ndarray], n_items: int) -> Validator:
        rows = self.config.training.eval_rows
        if rows and rows < len(valid):
            # a fixed subset, so every epoch is judged on the same users
            pick = np.sort(np.random.default_rng(0).choice(len(valid), rows, replace=False))
            valid = EvalSet(valid.users[pick], [valid.histories[i] for i in pick],
                            valid.targets[pick])
        counts = count_items(sequences, n_items)
        # NDCG@10 always; a monitored metric at another cut-off (hr_at_20) adds that cut-off
        cutoff = re.search(r"_at_(\d+)$", self.config.training.monitor)
        ks = sorted({10, int(cutoff.group(1))} if cutoff else {10})

        def validate(module: nn.Module) -> dict[str, float]:
            return evaluate_scores(lambda h: self._score_with(module, h), valid, n_items,
                                   item_counts=counts, ks=ks, sampled_negatives=None,
                                   progress=False).metrics

        return validate

    def _score_with(self, module: nn.Module, histories: list[np.ndarray]) -> np.ndarray:
        module.eval()
        device = next(module.parameters()).device
        max_length = self.config.model.max_length
        out = []
        with torch.no_grad():
            for begin in range(0, len(histories), SCORE_BATCH):
                batch = pad_left(histories[begin: begin + SCORE_BATCH], max_length)
                scores = module.score(torch.as_tensor(batch, device=device))  # type: ignore[operator]
                out.append(scores.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.n_items_ + 1), np.float32)

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        return self._score_with(self.module_, histories)

    def _save_state(self, directory: Path) -> None:
        torch.save(self.module_.state_dict(), directory / "weights.pt")
        state = {"n_items": self.n_items_, "history": self.history_.to_dict(),
                 "item_features": self.item_features_.to_dict() if self.item_features_ else None}
        (directory / "state.json").write_text(json.dumps(state))

    def _load_state(self, directory: Path) -> None:
        state = json.loads((directory / "state.json").read_text())
        self.n_items_ = int(state["n_items"])
        features = state["item_features"]
        self.item_features_ = ItemFeatures.from_dict(features) if features else None
        model_cfg = dataclasses.replace(self.config.model, n_items=self.n_items_)
        self.module_ = self.module_cls(model_cfg, self.item_features_)
        weights = torch.load(directory / "weights.pt", map_location="cpu", weights_only=True)
        self.module_.load_state_dict(weights)
        self.module_.eval()
        self.history_ = TrainingHistory.from_dict(state["history"])


def register_neural(name: str, module_cls: type[nn.Module], model_config_cls: type,
                    preset: dict[str, Any] | None = None) -> type[NeuralRecommender]:
    """Register ``name`` as a recommender over ``module_cls``; ``preset`` changes defaults.

    ``preset`` takes the same keys as ``--set`` (``loss``, ``model.dropout``, ``training.lr``).
    """

    config_cls = dataclasses.make_dataclass(
        f"{module_cls.__name__}RecommenderConfig",
        [("model", model_config_cls, dataclasses.field(default_factory=model_config_cls)),
         ("training", TrainingConfig, dataclasses.field(default_factory=TrainingConfig))])
    if preset:
        defaults = build_config(config_cls, preset)
        config_cls = dataclasses.make_dataclass(
            f"{name.replace('-', '_')}Config",
            [("model", model_config_cls,
              dataclasses.field(default_factory=lambda: dataclasses.replace(defaults.model))),
             ("training", TrainingConfig,
              dataclasses.field(default_factory=lambda: dataclasses.replace(defaults.training)))])
    cls = type(f"{module_cls.__name__}Recommender", (NeuralRecommender,),
               {"module_cls": module_cls, "Config": config_cls, "__doc__": module_cls.__doc__})
    return register_model(name)(cls)
