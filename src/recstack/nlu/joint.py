"""The fine-tuned encoder: multilingual-e5-small with a joint intent + BIO head (JointBERT-style).

One encoder pass per batch feeds two heads: the intent head reads the mean of the token states
(e5 was pre-trained to pool by mean, so that vector already means the sentence), the token head
labels every sub-word token with a BIO tag over the eight entity types. The loss is the intent
cross-entropy plus ``token_loss_weight`` times the token cross-entropy. Tokens, labels and
decoding are :class:`recstack.nlu.tagging.JointCodec`'s (torch-free, shared with the ONNX path).

The gazetteer the pipeline passes is a feature twice over: the rules' matches (gazetteer names
and the date/budget/... regexes) become a per-token BIO hint, embedded and added to the word
embeddings at the input (``hint_input``: attention can then weigh a listed name against its
context) and, one-hot, beside the token states at the token head (``gazetteer_feature``).
Every epoch draws fresh place names into the training questions (``slot_swap``,
:func:`recstack.nlu.tagging.swap_places`).

The only NLU module that imports torch and transformers at module level (import-linter:
``recstack.nlu.joint -> torch``); the plugin table names it as a string, so listing models does
not import it.
"""

from __future__ import annotations

import os

# Why here: huggingface_hub reads these when first imported; nothing here may download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch
from torch import nn
from transformers import BertModel, PreTrainedTokenizerFast

from recstack.errors import ConfigError, DataError, NotFoundError
from recstack.nlu.decoding import (
    DEFAULT_HINT_REQUIRED,
    DEFAULT_SPAN_THRESHOLDS,
    check_decoding,
    choose_span_thresholds,
)
from recstack.nlu.evaluation import score_parses
from recstack.nlu.schema import INTENTS, Example, Parse
from recstack.nlu.tagging import (
    IGNORE,
    LABELS,
    PLACE_TYPES,
    JointCodec,
    collate,
    read_saved_state,
    swap_places,
)
from recstack.training import Trainer, TrainerConfig, TrainingHistory

__all__ = ["LABELS", "JointConfig", "JointEncoderNLU"]

_CONFIG_FILE, _HEADS_FILE, _ENCODER_DIR = "joint.json", "heads.pt", "encoder"


@dataclass
class JointConfig(TrainerConfig):
    """Training and model settings; the spine trainer's fields plus the encoder's own."""

    epochs: int = 8  # the cosine schedule's length; 8 beat 6 on validation (docs/nlu.md)
    lr: float = 1e-4  # small encoder, frozen word embeddings: a higher lr than BERT-base's 5e-5
    weight_decay: float = 0.01  # AdamW default for transformer fine-tuning
    scheduler: str = "cosine"  # decays to ~0 at `epochs`: the last epochs polish
    monitor: str = "score"  # mean of intent accuracy and entity F1 on the validation set
    mode: str = "max"
    patience: int = 3  # validations without gain before stopping
    max_minutes: float = 40.0  # wall-clock budget: 8 epochs take ~25 min on 2 CPU cores
    threads: int = 0  # torch intra-op threads while training (0 = torch's default)
    batch_size: int = 32  # questions per step; dynamic padding keeps short batches cheap
    eval_batch_size: int = 64  # questions per forward pass in parse and validation
    max_length: int = 64  # tokens; travel questions are ~15-30, longer text is truncated
    token_loss_weight: float = 1.0  # weight of the BIO loss beside the intent loss
    pooling: str = "mean"  # "mean" (e5's own pooling) or "cls" (the first token, <s>)
    dropout: float = 0.1  # before both heads, as in BERT's classifiers
    freeze_word_embeddings: bool = True  # 250k x 384 rows: ~7x faster CPU steps, and unseen
    # names keep their pre-trained pieces instead of drifting towards the training names
    gazetteer_feature: bool = True  # gazetteer/regex matches as a per-token one-hot BIO hint
    hint_input: bool = True  # ... and embedded, added to the word embeddings at the input
    gazetteer_types: bool = True  # a decoded place span that is a listed name takes its type
    gazetteer_spans: bool = True  # ... and one overlapping listed names becomes those names
    hint_scale: float = 10.0  # the head hint's size: the trainer has one lr, and Adam steps its
    # weights by ~lr whatever the input, so x10 gives the new hint weights a 10x effective lr
    slot_swap: float = 0.5  # share of place spans given a fresh name each epoch (0 = off):
    # 0.5 beat 0 and 1 on validation (docs/nlu.md)
    # Decoding (recstack.nlu.decoding; each step chosen on validation, docs/nlu.md):
    decoding: str = "viterbi"  # the best valid BIO sequence, or "argmax" per token
    hint_required: tuple[str, ...] = DEFAULT_HINT_REQUIRED  # kept only over a rules match
    span_thresholds: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_SPAN_THRESHOLDS))  # type -> minimum span score
    tune_span_thresholds: bool = True  # fit picks span_thresholds on its validation questions

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pooling not in ("mean", "cls"):
            raise ConfigError(f"unknown pooling {self.pooling!r}", field="pooling",
                              fix="use 'mean' or 'cls'")
        if not 8 <= self.max_length <= 512:
            raise ConfigError("max_length must be between 8 and 512", field="max_length",
                              fix="for example max_length=64")
        if not 0.0 <= self.slot_swap <= 1.0:
            raise ConfigError("slot_swap must be a share between 0 and 1", field="slot_swap",
                              fix="for example slot_swap=0.5")
        self.hint_required = tuple(self.hint_required)
        check_decoding(self.decoding, self.hint_required, self.span_thresholds)


class _JointModule(nn.Module):
    """Encoder + intent head + token head (+ hint embeddings); forward returns a dict with
    ``loss`` when labels are given, as the spine trainer's default loss expects."""

    def __init__(self, encoder: BertModel, config: JointConfig):
        super().__init__()
        hidden = int(encoder.config.hidden_size)
        self.encoder = encoder
        self.pooling = config.pooling
        self.token_loss_weight = config.token_loss_weight
        self.dropout = nn.Dropout(config.dropout)
        self.hint_scale = config.hint_scale if config.gazetteer_feature else 0.0
        self.intent_head = nn.Linear(hidden, len(INTENTS))
        # States and the one-hot hint side by side.
        self.token_head = nn.Linear(hidden + len(LABELS), len(LABELS))
        self.hint_embedding: nn.Embedding | None = None
        if config.hint_input and config.gazetteer_feature:
            # Zero at the start: the pre-trained encoder sees its own inputs until the hint
            # proves useful.
            self.hint_embedding = nn.Embedding(len(LABELS), hidden)
            nn.init.zeros_(self.hint_embedding.weight)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                hints: torch.Tensor, intent: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if self.hint_embedding is not None:
            embeds = self.encoder.embeddings.word_embeddings(input_ids)
            embeds = embeds + self.hint_embedding(hints)
            states = self.encoder(inputs_embeds=embeds,
                                  attention_mask=attention_mask).last_hidden_state
        else:
            states = self.encoder(input_ids=input_ids,
                                  attention_mask=attention_mask).last_hidden_state  # (B, T, H)
        if self.pooling == "mean":
            mask = attention_mask.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, H)
        else:
            pooled = states[:, 0]
        intent_logits = self.intent_head(self.dropout(pooled))  # (B, intents)
        hint = nn.functional.one_hot(hints, len(LABELS)).to(states.dtype) * self.hint_scale
        token_logits = self.token_head(torch.cat([self.dropout(states), hint], -1))  # (B, T, L)
        out = {"intent_logits": intent_logits, "token_logits": token_logits}
        if intent is not None and labels is not None:
            ce = nn.functional.cross_entropy
            token_loss = ce(token_logits.flatten(0, 1).float(), labels.flatten(),
                            ignore_index=IGNORE)
            out["loss"] = ce(intent_logits.float(), intent) + self.token_loss_weight * token_loss
        return out


def _tensors(batch: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in batch.items()}


class JointEncoderNLU:
    """multilingual-e5-small fine-tuned with a joint intent + BIO head.

    Args:
        gazetteer: entity type → names (the pipeline passes it); kept whole when particles are
            trimmed and, with ``gazetteer_feature``, matched as a per-token hint.
        swap_names: place type → names that ``slot_swap`` draws from; default the gazetteer's
            place lists. The pipeline passes names that no held-out question uses.
        encoder: a converted e5 folder or a recstack home (converted there on first use by
            :func:`recstack.encoders.ensure_e5`); default the settings' home.
        config: a :class:`JointConfig`; keyword overrides (``epochs=2``, as ``--set`` passes
            them) replace its fields.
    """

    def __init__(self, *, gazetteer: Mapping[str, Iterable[str]] | None = None,
                 swap_names: Mapping[str, Sequence[str]] | None = None,
                 encoder: str | Path | None = None, config: JointConfig | None = None,
                 **overrides: Any):
        known = {f.name for f in dataclasses.fields(JointConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown JointEncoderNLU parameter(s) {', '.join(unknown)}",
                              field=unknown[0], fix=f"use fields of JointConfig: "
                                                    f"{', '.join(sorted(known))}")
        self.gazetteer = gazetteer
        self.swap_names = swap_names
        self.encoder = encoder
        self.config = dataclasses.replace(config or JointConfig(), **overrides)

    # -- set-up ------------------------------------------------------------------------------
    def _make_codec(self, tokenizer: Any) -> None:
        self.codec_ = JointCodec.from_config(tokenizer, self.gazetteer,
                                             dataclasses.asdict(self.config))

    def _encoder_folder(self) -> Path:
        if self.encoder is not None and (Path(self.encoder) / "config.json").is_file():
            return Path(self.encoder)
        from recstack.encoders import ensure_e5

        return ensure_e5(self.encoder)  # a home, or None: the settings' home

    # -- fitting -----------------------------------------------------------------------------
    def _epoch_batches(self, examples: list[Example]) -> Any:
        """The trainer's ``batches(epoch, rng)``: shuffled batches, place names swapped afresh
        each epoch when ``slot_swap`` > 0 (otherwise encoded once)."""
        cfg = self.config
        codec = self.codec_
        names = {t: list(v) for t, v in (self.swap_names if self.swap_names is not None
                                         else codec.lists).items() if t in PLACE_TYPES and v}
        fixed = None if cfg.slot_swap > 0 else codec.encode([e.text for e in examples], examples)

        def batches(epoch: int, rng: np.random.Generator) -> Iterable[dict[str, torch.Tensor]]:
            if fixed is None:
                swapped = [swap_places(e, names, rng, cfg.slot_swap) for e in examples]
                items = codec.encode([e.text for e in swapped], swapped)
            else:
                items = fixed
            order = rng.permutation(len(items))
            for lo in range(0, len(items), cfg.batch_size):
                yield _tensors(collate([items[i] for i in order[lo:lo + cfg.batch_size]]))

        return batches

    def fit(self, examples: list[Example], valid: list[Example] | None = None) -> Self:
        """Fine-tunes encoder and heads with the spine trainer.

        Args:
            examples: labelled questions (intents from ``INTENTS``).
            valid: validation questions: pick the best epoch by ``config.monitor`` and stop
                early; without them the last epoch is kept.
        """
        cfg = self.config
        examples = [e for e in examples if e.text.strip()]
        unknown = sorted({e.intent for e in examples} - set(INTENTS))
        if not examples or unknown:
            raise DataError(f"cannot train on {len(examples)} examples (unknown intents: "
                            f"{unknown})", field="examples",
                            fix=f"pass labelled questions with intents from {INTENTS}")
        torch.manual_seed(cfg.seed)  # the heads' initial weights
        folder = self._encoder_folder()
        self._make_codec(PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True))
        encoder = BertModel.from_pretrained(folder, add_pooling_layer=False,
                                            local_files_only=True)
        encoder.embeddings.word_embeddings.weight.requires_grad_(not cfg.freeze_word_embeddings)
        self.module_ = _JointModule(encoder, cfg)
        validate = None
        if valid:
            valid = [e for e in valid if e.text.strip()]
            valid_items = self.codec_.encode([e.text for e in valid], valid)

            def validate(module: nn.Module) -> dict[str, float]:
                parses, loss = self._predict([e.text for e in valid], valid_items)
                scores = score_parses(valid, parses)
                acc, f1 = scores["intent"]["accuracy"], scores["entities"]["f1"]
                return {"intent_accuracy": acc, "entity_f1": f1, "loss": loss,
                        "score": (acc + f1) / 2}

        steps = -(-len(examples) // cfg.batch_size)
        self.history_: TrainingHistory = Trainer(cfg).fit(
            self.module_, self._epoch_batches(examples), validate=validate,
            steps_per_epoch=steps, progress=False)
        self.module_.cpu().eval()
        if valid and cfg.tune_span_thresholds:
            self.tune_span_thresholds(valid)
        return self

    def tune_span_thresholds(self, valid: list[Example]) -> dict[str, float]:
        """Chooses ``config.span_thresholds`` on labelled VALIDATION questions
        (:func:`recstack.nlu.decoding.choose_span_thresholds` over their parses decoded
        without thresholds), sets them on the model and its codec (``save`` and the ONNX
        export keep them) and returns them."""
        self._check_fitted()
        valid = [e for e in valid if e.text.strip()]
        codec = self.codec_
        kept, codec.span_thresholds = codec.span_thresholds, {}
        try:
            parses, _ = self._predict([e.text for e in valid],
                                      codec.encode([e.text for e in valid]))
        finally:
            codec.span_thresholds = kept
        chosen = choose_span_thresholds(valid, parses)
        self.config.span_thresholds, codec.span_thresholds = chosen, dict(chosen)
        return chosen

    # -- inference ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise NotFoundError("this JointEncoderNLU has not been fitted", field="model",
                                fix="call fit(examples) or JointEncoderNLU.load(directory)")

    def _predict(self, texts: list[str], items: list[dict[str, Any]]
                 ) -> tuple[list[Parse], float]:
        """Parses of encoded texts, and the mean loss when the items carry labels."""
        module = self.module_
        device = next(module.parameters()).device
        parses, losses = [], []
        size = self.config.eval_batch_size
        with torch.inference_mode():
            for lo in range(0, len(items), size):
                chunk = items[lo:lo + size]
                batch = {k: v.to(device) for k, v in _tensors(collate(chunk)).items()}
                out = module(**batch)
                if "loss" in out:
                    losses.append(float(out["loss"]) * len(chunk))
                parses.extend(self.codec_.parses(
                    texts[lo:lo + size], chunk, out["intent_logits"].float().cpu().numpy(),
                    out["token_logits"].float().cpu().numpy()))
        return parses, (sum(losses) / len(items) if losses and items else float("nan"))

    def parse(self, texts: list[str]) -> list[Parse]:
        """Parses a batch; empty or blank text is ``other`` with no entities. Text beyond
        ``max_length`` tokens is cut off (its entities are not found)."""
        self._check_fitted()
        live = [i for i, t in enumerate(texts) if t and t.strip()]
        out = [Parse(text=t, intent="other", intent_score=1.0, entities=[]) for t in texts]
        if live:
            live_texts = [texts[i] for i in live]
            parses, _ = self._predict(live_texts, self.codec_.encode(live_texts))
            for i, parse in zip(live, parses, strict=True):
                out[i] = parse
        return out

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """Writes ``encoder/`` (``save_pretrained`` of the encoder and the tokenizer),
        ``heads.pt`` (the heads' state dict) and ``joint.json`` (config, labels, gazetteer)."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.module_.encoder.save_pretrained(directory / _ENCODER_DIR)
        self.codec_.tokenizer.save_pretrained(directory / _ENCODER_DIR)
        heads = {k: v for k, v in self.module_.state_dict().items()
                 if not k.startswith("encoder.")}
        torch.save(heads, directory / _HEADS_FILE)
        state = {"model_type": "joint-e5", "config": dataclasses.asdict(self.config),
                 "labels": list(LABELS), "intents": list(INTENTS), "gazetteer": self.codec_.lists,
                 "history": self.history_.to_dict() if hasattr(self, "history_") else None}
        (directory / _CONFIG_FILE).write_text(json.dumps(state, ensure_ascii=False),
                                              encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Reads a model written by :meth:`save`, from local files only."""
        directory = Path(directory)
        missing = [n for n in (_CONFIG_FILE, _HEADS_FILE, f"{_ENCODER_DIR}/config.json")
                   if not (directory / n).is_file()]
        if missing:
            raise NotFoundError(f"{directory} lacks {', '.join(missing)}", field="directory",
                                fix="pass a folder written by JointEncoderNLU.save")
        state = read_saved_state(directory / _CONFIG_FILE,
                                 fix="load it with its own class, or retrain")
        known = {f.name for f in dataclasses.fields(JointConfig)}
        config = {k: v for k, v in state["config"].items() if k in known}
        # A model saved before these fields existed had no input hint and no snapping.
        config.setdefault("hint_input", False)
        config.setdefault("gazetteer_spans", False)
        model = cls(gazetteer=state["gazetteer"], encoder=directory / _ENCODER_DIR,
                    config=JointConfig(**config))
        encoder = BertModel.from_pretrained(directory / _ENCODER_DIR, add_pooling_layer=False,
                                            local_files_only=True)
        model._make_codec(PreTrainedTokenizerFast.from_pretrained(directory / _ENCODER_DIR,
                                                                  local_files_only=True))
        model.module_ = _JointModule(encoder, model.config)
        heads = torch.load(directory / _HEADS_FILE, map_location="cpu", weights_only=True)
        result = model.module_.load_state_dict(heads, strict=False)  # the encoder came above
        wrong = [k for k in result.missing_keys if not k.startswith("encoder.")]
        if wrong or result.unexpected_keys:
            raise DataError(f"{directory / _HEADS_FILE} does not fit the model: missing "
                            f"{wrong}, unexpected {result.unexpected_keys}",
                            field="directory", fix="retrain and save again")
        model.module_.eval()
        if state.get("history"):
            model.history_ = TrainingHistory.from_dict(state["history"])
        return model
