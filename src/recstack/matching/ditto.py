"""The Ditto-style cross-encoder: multilingual e5 fine-tuned on serialised record pairs, on CPU.

Ditto (Li et al., 2020) reads both records as one text, ``COL name VAL … COL address VAL …
[SEP] COL name VAL …``, through a pre-trained transformer and classifies the pair; attention
across the two records sees what string features miss (word order, abbreviations, Korean next
to English). Here the transformer is the spine's multilingual-e5-small
(:mod:`recstack.encoders`), with a two-class head on its [CLS] state, fine-tuned for a small
budget (a capped number of training pairs, one epoch by default) on a few CPU threads. The word
embeddings stay frozen: they are 96M of e5-small's 118M weights, so the optimiser holds a
fifth of the state and the saved matcher keeps only the rest (the embeddings are reloaded from
the e5 cache). The decision threshold is chosen on validation for F1, like ``gbm``.

Registered as matcher ``ditto`` (``recstack match train --model ditto``); needs torch and
transformers (the ``nlu`` extra).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from recstack.errors import DataError
from recstack.matching.data import PairSet, Record
from recstack.matching.features import PairFeaturizer
from recstack.matching.matchers import Matcher, best_f1_threshold, check_is_fitted

__all__ = ["DittoMatcher", "serialise"]

WEIGHTS = "ditto.pt"
FROZEN = "bert.embeddings.word_embeddings.weight"  # reloaded from the e5 cache, not saved


def serialise(record: Record) -> str:
    """A record as Ditto writes it: ``COL <attribute> VAL <value>`` per known field."""
    parts = [("name", record.name), ("address", record.address),
             ("postalCode", record.postal_code)]
    if record.has_coordinates:
        parts += [("latitude", f"{record.lat:.4f}"), ("longitude", f"{record.lon:.4f}")]
    parts += sorted(record.attributes.items())
    return " ".join(f"COL {key} VAL {value}" for key, value in parts if value)


class DittoMatcher(Matcher):
    """e5 fine-tuned as a cross-encoder on serialised pairs.

    Args:
        max_train_pairs: training pairs used (a seeded sample when there are more): the budget.
        epochs: passes over them.
        batch_size: pairs per step.
        learning_rate: AdamW's peak rate (linear warm-up over 10% of the steps, then decay).
        max_length: tokens per pair (both records and the separators).
        threads: torch CPU threads while fitting and scoring.
        seed: sampling, initialisation of the head and batch order.
        e5_home: the recstack home whose encoder cache holds e5 (None: the settings' home).
    """

    name = "ditto"

    def __init__(self, *, max_train_pairs: int = 3000, epochs: int = 1, batch_size: int = 16,
                 learning_rate: float = 5e-5, max_length: int = 96, threads: int = 2,
                 seed: int = 0, e5_home: str | None = None):
        self.max_train_pairs = max_train_pairs
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_length = max_length
        self.threads = threads
        self.seed = seed
        self.e5_home = e5_home

    # -- model -------------------------------------------------------------------------------

    def _new_model(self) -> tuple[Any, Any]:
        from transformers import BertForSequenceClassification, PreTrainedTokenizerFast
        from transformers.utils import logging as hf_logging

        from recstack.encoders import ensure_e5

        folder = ensure_e5(self.e5_home)
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # "some weights are newly initialised": the head, yes
        try:
            model = BertForSequenceClassification.from_pretrained(folder, num_labels=2,
                                                                  local_files_only=True)
        finally:
            hf_logging.set_verbosity(verbosity)
        tokenizer = PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True)
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
        return model, tokenizer

    def _encode(self, tokenizer: Any, pairs: PairSet) -> Any:
        return tokenizer([serialise(r) for r in pairs.left], [serialise(r) for r in pairs.right],
                         padding=True, truncation="longest_first", max_length=self.max_length,
                         return_tensors="pt")

    def _logits(self, pairs: PairSet, batch_size: int = 64) -> np.ndarray:
        """The match logit (class 1 minus class 0) per pair."""
        import torch

        torch.set_num_threads(self.threads)
        self.model_.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(pairs), batch_size):
                chunk = pairs.subset(np.arange(start, min(start + batch_size, len(pairs))))
                logits = self.model_(**self._encode(self.tokenizer_, chunk)).logits
                out.append((logits[:, 1] - logits[:, 0]).float().numpy())
        return np.concatenate(out) if out else np.empty(0)

    # -- matcher -----------------------------------------------------------------------------

    def fit(self, train: PairSet, valid: PairSet) -> DittoMatcher:
        import torch

        labels = train.require_labels("training")
        if len(np.unique(labels)) < 2:
            raise DataError("the training pairs hold only one label", field="--pairs",
                            fix="give training pairs with both matches (1) and non-matches (0)")
        torch.set_num_threads(self.threads)
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        used = (rng.choice(len(train), self.max_train_pairs, replace=False)
                if len(train) > self.max_train_pairs else np.arange(len(train)))
        self.model_, self.tokenizer_ = self._new_model()
        trainable = [p for p in self.model_.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(trainable, lr=self.learning_rate, weight_decay=0.01)
        steps = self.epochs * -(-len(used) // self.batch_size)
        warmup = max(1, steps // 10)

        def rate(step: int) -> float:  # linear warm-up, then linear decay to 0
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (steps - step) / max(1, steps - warmup))

        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, rate)
        started = time.perf_counter()
        self.model_.train()
        for _ in range(self.epochs):
            order = used[rng.permutation(len(used))]
            for start in range(0, len(order), self.batch_size):
                chunk = order[start:start + self.batch_size]
                inputs = self._encode(self.tokenizer_, train.subset(chunk))
                target = torch.as_tensor(labels[chunk], dtype=torch.long)
                loss = self.model_(**inputs, labels=target).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
        self.fit_seconds_ = time.perf_counter() - started
        self.train_pairs_ = len(used)
        self.featurizer_ = PairFeaturizer().fit(train)  # monitoring's pair features only
        raw = 1.0 / (1.0 + np.exp(-self._logits(valid)))
        self.threshold_, self.valid_f1_ = best_f1_threshold(
            valid.require_labels("choosing the threshold"), raw)
        return self

    def predict_proba(self, pairs: PairSet) -> np.ndarray:
        """Probabilities moved so that the validation threshold lands on 0.5 (as ``gbm``)."""
        check_is_fitted(self)
        t = float(np.clip(self.threshold_, 1e-7, 1 - 1e-7))
        logit = self._logits(pairs) - np.log(t / (1 - t))
        score = 1.0 / (1.0 + np.exp(-logit))
        return np.column_stack([1.0 - score, score])

    def describe(self) -> dict[str, Any]:
        check_is_fitted(self)
        return {"threshold": round(self.threshold_, 4), "train_pairs": self.train_pairs_,
                "fit_seconds": round(self.fit_seconds_, 1)}

    # -- files -------------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        # The network goes to its own file (without the frozen embeddings); the rest is small.
        return {k: v for k, v in self.__dict__.items() if k not in ("model_", "tokenizer_")}

    def save(self, directory: Path) -> Path:
        import torch

        directory = super().save(directory)
        weights = {k: v for k, v in self.model_.state_dict().items() if k != FROZEN}
        torch.save(weights, Path(directory) / WEIGHTS)
        return directory

    @classmethod
    def load(cls, directory: Path) -> Matcher:
        import torch

        matcher = super().load(directory)
        assert isinstance(matcher, DittoMatcher)
        path = Path(directory) / WEIGHTS
        if not path.is_file():
            raise DataError(f"{directory} holds no {WEIGHTS}", field="model",
                            fix="retrain the ditto matcher with `recstack match train`")
        matcher.model_, matcher.tokenizer_ = matcher._new_model()
        missing, _ = matcher.model_.load_state_dict(torch.load(path, weights_only=True),
                                                    strict=False)
        if set(missing) - {FROZEN}:
            raise DataError(f"{path} lacks weights: {sorted(set(missing) - {FROZEN})[:3]}",
                            field="model", fix="retrain the ditto matcher")
        return matcher
