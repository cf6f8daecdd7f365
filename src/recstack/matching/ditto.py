"""The Ditto-style cross-encoder: multilingual e5 fine-tuned on serialised record pairs, on CPU.

Ditto (Li et al., 2020) reads both records as one text, ``COL name VAL … COL address VAL …
[SEP] COL name VAL …``, through a pre-trained transformer and classifies the pair; attention
across the two records sees what string features miss (word order, abbreviations, Korean next
to English). Here the transformer is the spine's multilingual-e5-small
(:mod:`recstack.encoders`), fine-tuned for a small budget (a capped number of training pairs,
a few epochs) on a few CPU threads.

Why the first version did not learn, and what changed (docs/matching.md, "The Ditto-style
cross-encoder", has the experiments):

- its budget: 200 pairs × 1 epoch is 13 steps; the same recipe on 32 balanced pairs still had a
  training loss of 0.66 after 13 steps (60 steps: 0.29), so it separated nothing, and the
  threshold chosen on validation then let every pair through. The default is now the whole
  sample (3,000 pairs) × 3 epochs at 1e-4 (2e-4 was worse on a short budget);
- the raw coordinates: the strongest signal of a place pair is buried in digit pieces
  (``▁40 . 476 1``) a transformer compares badly. As Ditto's "domain knowledge injection", a pair
  with coordinates on both sides reads their distance first (``COL distance VAL 120 m``)
  instead: on a 40-step fit the held-out AUC went from 0.63 to 0.89, and a Pittsburgh pair
  shrinks from a median 66 tokens to 39 (faster to train and to serve);
- the head: ``BertForSequenceClassification`` put a freshly initialised dense + tanh "pooler"
  on [CLS] (e5 ships none: it pools by mean); the two-class head now reads the [CLS] state
  directly (``pooling="cls"``, held-out AUC 0.92 on the 40-step fit) or the mean of the token
  states (``pooling="mean"``, 0.89).

The word embeddings stay frozen: they are 96M of e5-small's 118M weights, so the optimiser holds
a fifth of the state and the saved matcher keeps only the rest (the embeddings are reloaded
from the e5 cache). The decision threshold is chosen on validation for F1, like ``gbm``.

Registered as matcher ``ditto`` (``recstack match train --model ditto``); needs torch and
transformers (the ``nlu`` extra), imported only when it fits or loads.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from recstack.errors import ConfigError, DataError
from recstack.matching.data import PairSet, Record
from recstack.matching.features import PairFeaturizer, haversine_m
from recstack.matching.matchers import Matcher, best_f1_threshold, check_is_fitted

__all__ = ["DittoMatcher", "serialise", "serialise_pair"]

WEIGHTS = "ditto.pt"
FROZEN = "encoder.embeddings.word_embeddings.weight"  # reloaded from the e5 cache, not saved
POOLINGS = ("cls", "mean")


def serialise(record: Record, *, coordinates: bool = True) -> str:
    """A record as Ditto writes it: ``COL <attribute> VAL <value>`` per known field."""
    parts = [("name", record.name), ("address", record.address),
             ("postalCode", record.postal_code)]
    if coordinates and record.has_coordinates:
        parts += [("latitude", f"{record.lat:.4f}"), ("longitude", f"{record.lon:.4f}")]
    parts += sorted(record.attributes.items())
    return " ".join(f"COL {key} VAL {value}" for key, value in parts if value)


def _distance_text(left: Record, right: Record) -> str:
    """The great-circle distance, rounded to two significant digits (``120 m``, ``3.4 km``)."""
    coordinates = np.array([left.lat, left.lon, right.lat, right.lon], dtype=float)
    metres = float(haversine_m(*coordinates))
    if metres < 1000:
        return f"{float(f'{metres:.2g}'):.0f} m"
    return f"{float(f'{metres / 1000:.2g}'):g} km"


def serialise_pair(left: Record, right: Record, *, distance: bool = True) -> tuple[str, str]:
    """The two texts the cross-encoder reads. With ``distance``, a pair whose records both have
    coordinates reads ``COL distance VAL …`` first (where truncation never cuts it) instead of
    the raw coordinates; otherwise each record as :func:`serialise` writes it."""
    if not (distance and left.has_coordinates and right.has_coordinates):
        return serialise(left), serialise(right)
    return (f"COL distance VAL {_distance_text(left, right)} "
            f"{serialise(left, coordinates=False)}", serialise(right, coordinates=False))


def _network(folder: Path, pooling: str, dropout: float) -> Any:
    """e5 with a two-class head on its pooled token states."""
    import torch
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    class CrossEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            verbosity = hf_logging.get_verbosity()
            hf_logging.set_verbosity_error()
            try:
                self.encoder = BertModel.from_pretrained(folder, add_pooling_layer=False,
                                                         local_files_only=True)
            finally:
                hf_logging.set_verbosity(verbosity)
            self.dropout = torch.nn.Dropout(dropout)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 2)

        def forward(self, input_ids: Any, attention_mask: Any, **_: Any) -> Any:
            states = self.encoder(input_ids=input_ids,
                                  attention_mask=attention_mask).last_hidden_state
            if pooling == "cls":
                pooled = states[:, 0]
            else:  # padding excluded from the mean
                mask = attention_mask.unsqueeze(-1).to(states.dtype)
                pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(self.dropout(pooled))

    return CrossEncoder()


class DittoMatcher(Matcher):
    """e5 fine-tuned as a cross-encoder on serialised pairs.

    Args:
        max_train_pairs: training pairs used (a seeded sample when there are more): the budget.
        epochs: passes over them.
        batch_size: pairs per step.
        learning_rate: AdamW's peak rate (linear warm-up over 10% of the steps, then decay).
        max_length: tokens per pair (both records and the separators).
        pooling: the ``cls`` state, or the ``mean`` of the token states (as e5 pools).
        distance: read the distance instead of raw coordinates when both records have them.
        threads: torch CPU threads while fitting and scoring.
        seed: sampling, initialisation of the head, dropout and batch order.
        e5_home: the recstack home whose encoder cache holds e5 (None: the settings' home).
    """

    name = "ditto"

    def __init__(self, *, max_train_pairs: int = 3000, epochs: int = 3, batch_size: int = 16,
                 learning_rate: float = 1e-4, max_length: int = 96, pooling: str = "cls",
                 distance: bool = True, threads: int = 2, seed: int = 0,
                 e5_home: str | None = None):
        if pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {pooling!r}", field="pooling",
                              fix=f"use one of: {', '.join(POOLINGS)}")
        self.max_train_pairs = max_train_pairs
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_length = max_length
        self.pooling = pooling
        self.distance = distance
        self.threads = threads
        self.seed = seed
        self.e5_home = e5_home

    # -- model -------------------------------------------------------------------------------

    def _new_model(self) -> tuple[Any, Any]:
        from transformers import PreTrainedTokenizerFast

        from recstack.encoders import ensure_e5

        folder = ensure_e5(self.e5_home)
        model = _network(folder, self.pooling, dropout=0.1)
        tokenizer = PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True)
        model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
        return model, tokenizer

    def _texts(self, pairs: PairSet) -> tuple[list[str], list[str]]:
        texts = [serialise_pair(a, b, distance=self.distance)
                 for a, b in zip(pairs.left, pairs.right, strict=True)]
        return [t[0] for t in texts], [t[1] for t in texts]

    def _encode(self, tokenizer: Any, left: list[str], right: list[str]) -> Any:
        return tokenizer(left, right, padding=True, truncation="longest_first",
                         max_length=self.max_length, return_tensors="pt")

    def _logits(self, pairs: PairSet, batch_size: int = 64) -> np.ndarray:
        """The match logit (class 1 minus class 0) per pair, in the pairs' order."""
        import torch

        torch.set_num_threads(self.threads)
        self.model_.eval()
        left, right = self._texts(pairs)
        # Batches of similar length pad less: sort by text length, score, put back in order.
        order = np.argsort([len(a) + len(b) for a, b in zip(left, right, strict=True)],
                           kind="stable")
        out = np.empty(len(pairs), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                logits = self.model_(**self._encode(self.tokenizer_, [left[i] for i in chunk],
                                                    [right[i] for i in chunk]))
                out[chunk] = (logits[:, 1] - logits[:, 0]).float().numpy()
        return out

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
        left, right = self._texts(train)
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
        losses = []
        for _ in range(self.epochs):
            order = used[rng.permutation(len(used))]
            for start in range(0, len(order), self.batch_size):
                chunk = order[start:start + self.batch_size]
                inputs = self._encode(self.tokenizer_, [left[i] for i in chunk],
                                      [right[i] for i in chunk])
                target = torch.as_tensor(labels[chunk], dtype=torch.long)
                loss = torch.nn.functional.cross_entropy(self.model_(**inputs), target)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
                losses.append(loss.item())
        self.fit_seconds_ = time.perf_counter() - started
        self.train_pairs_ = len(used)
        self.steps_ = steps
        # The mean loss of the first and last tenth of the steps: did it learn?
        tenth = max(1, len(losses) // 10)
        self.train_loss_ = (float(np.mean(losses[:tenth])), float(np.mean(losses[-tenth:])))
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
                "steps": self.steps_, "fit_seconds": round(self.fit_seconds_, 1),
                "train_loss_first_last": [round(x, 4) for x in self.train_loss_]}

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
        if not hasattr(matcher, "pooling"):  # saved by the first version (head on [CLS])
            raise DataError(f"{directory} holds a ditto matcher of an older version",
                            field="model",
                            fix="retrain the ditto matcher with `recstack match train`")
        path = Path(directory) / WEIGHTS
        if not path.is_file():
            raise DataError(f"{directory} holds no {WEIGHTS}", field="model",
                            fix="retrain the ditto matcher with `recstack match train`")
        matcher.model_, matcher.tokenizer_ = matcher._new_model()
        missing, unexpected = matcher.model_.load_state_dict(
            torch.load(path, weights_only=True), strict=False)
        if set(missing) - {FROZEN} or unexpected:
            raise DataError(f"{path} does not fit this version's network (missing "
                            f"{sorted(set(missing) - {FROZEN})[:3]}, unexpected "
                            f"{sorted(unexpected)[:3]})", field="model",
                            fix="retrain the ditto matcher with `recstack match train`")
        return matcher
