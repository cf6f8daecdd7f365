"""The fine-tuned encoder: multilingual-e5-small with a joint intent + BIO head (JointBERT-style).

One encoder pass per batch feeds two heads: the intent head reads the mean of the token states
(e5 was pre-trained to pool by mean, so that vector already means the sentence), the token head
labels every sub-word token with a BIO tag over the eight entity types. The loss is the intent
cross-entropy plus ``token_loss_weight`` times the token cross-entropy.

Labels come from character spans through the fast tokenizer's offset mapping. **Every** sub-token
that overlaps a span carries its label (B on the one holding the span's first character, I on
the rest), not only a word's first piece: Korean particles glue onto names inside one word and
the Unigram tokenizer often cuts across the name/particle boundary (``홋카이도로`` → ``▁ 홋 카이
도로``), so a span's end is only recoverable from its last piece. Decoding takes the characters
of a tag run over the ORIGINAL text (offsets) and trims particles and edge punctuation with
:func:`recstack.text.trim_span`, keeping gazetteer names whole (``제주도`` keeps its ``도``).

The gazetteer the pipeline passes is also a feature (``gazetteer_feature``): the rules' matches
(gazetteer names and the date/budget/... regexes) become a per-token one-hot BIO hint beside the
token states at the token head's input.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import torch
from torch import nn
from transformers import BertModel, PreTrainedTokenizerFast

from recstack.errors import ConfigError, DataError, NotFoundError
from recstack.nlu import _lexicon as lex
from recstack.nlu.evaluation import score_parses
from recstack.nlu.rules import GazetteerMatcher, find_entities
from recstack.nlu.schema import ENTITY_TYPES, INTENTS, Example, Parse, Span
from recstack.text import trim_span
from recstack.training import Trainer, TrainerConfig, TrainingHistory

__all__ = ["LABELS", "JointConfig", "JointEncoderNLU"]

LABELS: tuple[str, ...] = ("O", *(f"{p}-{t}" for t in ENTITY_TYPES for p in "BI"))
_LABEL_ID = {label: i for i, label in enumerate(LABELS)}
_IGNORE = -100  # cross-entropy's ignore_index: special tokens and bare "▁" pieces
_PLACES = ("COUNTRY", "CITY", "POI")
_CONFIG_FILE, _HEADS_FILE, _ENCODER_DIR = "joint.json", "heads.pt", "encoder"


@dataclass
class JointConfig(TrainerConfig):
    """Training and model settings; the spine trainer's fields plus the encoder's own."""

    epochs: int = 8  # upper bound; the budget or early stopping usually ends sooner
    lr: float = 1e-4  # small encoder, frozen word embeddings: a higher lr than BERT-base's 5e-5
    weight_decay: float = 0.01  # AdamW default for transformer fine-tuning
    scheduler: str = "cosine"  # decays to ~0 at `epochs`: the last epochs polish
    monitor: str = "score"  # mean of intent accuracy and entity F1 on the validation set
    mode: str = "max"
    patience: int = 3  # validations without gain before stopping
    max_minutes: float = 15.0  # wall-clock budget on the shared 2-core machine
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
    gazetteer_types: bool = True  # a decoded place span that is a listed name takes its type
    hint_scale: float = 10.0  # the hint's size: the trainer has one lr, and Adam steps its
    # weights by ~lr whatever the input, so x10 gives the new hint weights a 10x effective lr

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pooling not in ("mean", "cls"):
            raise ConfigError(f"unknown pooling {self.pooling!r}", field="pooling",
                              fix="use 'mean' or 'cls'")
        if not 8 <= self.max_length <= 512:
            raise ConfigError("max_length must be between 8 and 512", field="max_length",
                              fix="for example max_length=64")


class _JointModule(nn.Module):
    """Encoder + intent head + token head (+ hint embedding); forward returns a dict with
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

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                hints: torch.Tensor, intent: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
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
                            ignore_index=_IGNORE)
            out["loss"] = ce(intent_logits.float(), intent) + self.token_loss_weight * token_loss
        return out


def _content(text: str, offsets: Sequence[tuple[int, int]], ids: Sequence[int] = (),
             blank: int = -1) -> list[tuple[int, int]]:
    """Each token's characters without leading spaces (a Metaspace piece's offsets include the
    space before it). Special tokens and the bare ``▁`` piece (id ``blank``) become empty
    ``(s, s)``: the tokenizer gives a text-initial ``▁`` the offsets of the next character, and
    labelling both would start every first-word entity twice."""
    out = []
    for k, (start, end) in enumerate(offsets):
        if k < len(ids) and ids[k] == blank:
            start = end
        while start < end and text[start].isspace():
            start += 1
        out.append((start, end))
    return out


def _align(content: Sequence[tuple[int, int]], spans: Iterable[Span]) -> list[int]:
    """BIO label ids per token: every token overlapping a span carries its type."""
    spans = sorted(spans, key=lambda s: s.start)
    ids = []
    for start, end in content:
        if start >= end:
            ids.append(_IGNORE)
            continue
        label = "O"
        for s in spans:
            if start < s.end and end > s.start:
                label = ("B-" if start <= s.start else "I-") + s.type
                break
        ids.append(_LABEL_ID[label])
    return ids


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)


def _collate(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Dynamic padding: each batch only as wide as its longest question."""
    batch = {"input_ids": _pad([i["input_ids"] for i in items], 1),  # <pad> is id 1
             "attention_mask": _pad([[1] * len(i["input_ids"]) for i in items], 0),
             "hints": _pad([[max(h, 0) for h in i["hints"]] for i in items], 0)}
    if "labels" in items[0]:
        batch["labels"] = _pad([i["labels"] for i in items], _IGNORE)
        batch["intent"] = torch.tensor([i["intent"] for i in items], dtype=torch.long)
    return batch


class JointEncoderNLU:
    """multilingual-e5-small fine-tuned with a joint intent + BIO head.

    Args:
        gazetteer: entity type → names (the pipeline passes it); kept whole when particles are
            trimmed and, with ``gazetteer_feature``, matched as a per-token hint.
        encoder: a converted e5 folder or a recstack home (converted there on first use by
            :func:`recstack.encoders.ensure_e5`); default the settings' home.
        config: a :class:`JointConfig`; keyword overrides (``epochs=2``, as ``--set`` passes
            them) replace its fields.
    """

    def __init__(self, *, gazetteer: Mapping[str, Iterable[str]] | None = None,
                 encoder: str | Path | None = None, config: JointConfig | None = None,
                 **overrides: Any):
        known = {f.name for f in dataclasses.fields(JointConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown JointEncoderNLU parameter(s) {', '.join(unknown)}",
                              field=unknown[0], fix=f"use fields of JointConfig: "
                                                    f"{', '.join(sorted(known))}")
        self.gazetteer = gazetteer
        self.encoder = encoder
        self.config = dataclasses.replace(config or JointConfig(), **overrides)

    # -- set-up ------------------------------------------------------------------------------
    def _lists(self) -> dict[str, list[str]]:
        lists = {t: list(v) for t, v in (self.gazetteer or {}).items()}
        lists.setdefault("COMPANION", list(lex.COMPANIONS))
        return lists

    def _setup(self) -> None:
        """The matcher and the names kept whole (not learned; rebuilt on load)."""
        if hasattr(self, "matcher_"):
            return
        lists = self._lists()
        self.matcher_ = GazetteerMatcher(lists)
        self.known_ = frozenset(n for names in lists.values() for n in names)
        self.place_type_ = {n: t for t in _PLACES for n in lists.get(t, [])}

    def _encoder_folder(self) -> Path:
        if self.encoder is not None and (Path(self.encoder) / "config.json").is_file():
            return Path(self.encoder)
        from recstack.encoders import ensure_e5

        return ensure_e5(self.encoder)  # a home, or None: the settings' home

    def _encode(self, texts: Sequence[str], examples: Sequence[Example] | None = None
                ) -> list[dict[str, Any]]:
        """Token ids, content offsets, hint ids (and labels) of each text."""
        self._setup()
        enc = self.tokenizer_(list(texts), truncation=True, max_length=self.config.max_length,
                              return_offsets_mapping=True)
        items, blank = [], self.tokenizer_.convert_tokens_to_ids("▁")
        for k, text in enumerate(texts):
            content = _content(text, enc["offset_mapping"][k], enc["input_ids"][k], blank)
            hints = (_align(content, find_entities(text, self.matcher_))
                     if self.config.gazetteer_feature else [0] * len(content))
            item: dict[str, Any] = {"input_ids": enc["input_ids"][k], "content": content,
                                    "hints": hints}
            if examples is not None:
                item["labels"] = _align(content, examples[k].entities)
                item["intent"] = INTENTS.index(examples[k].intent)
            items.append(item)
        return items

    # -- fitting -----------------------------------------------------------------------------
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
        self.tokenizer_ = PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True)
        encoder = BertModel.from_pretrained(folder, add_pooling_layer=False,
                                            local_files_only=True)
        encoder.embeddings.word_embeddings.weight.requires_grad_(not cfg.freeze_word_embeddings)
        self.module_ = _JointModule(encoder, cfg)
        train_items = self._encode([e.text for e in examples], examples)
        loader: torch.utils.data.DataLoader[dict[str, Any]] = torch.utils.data.DataLoader(
            train_items,  # type: ignore[arg-type]  # a list is a map-style dataset
            batch_size=cfg.batch_size, shuffle=True, collate_fn=_collate,
            generator=torch.Generator().manual_seed(cfg.seed))
        validate = None
        if valid:
            valid = [e for e in valid if e.text.strip()]
            valid_items = self._encode([e.text for e in valid], valid)

            def validate(module: nn.Module) -> dict[str, float]:
                parses, loss = self._predict([e.text for e in valid], valid_items)
                scores = score_parses(valid, parses)
                acc, f1 = scores["intent"]["accuracy"], scores["entities"]["f1"]
                return {"intent_accuracy": acc, "entity_f1": f1, "loss": loss,
                        "score": (acc + f1) / 2}

        self.history_: TrainingHistory = Trainer(cfg).fit(
            self.module_, loader, validate=validate, progress=False)
        self.module_.cpu().eval()
        return self

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
                batch = {k: v.to(device) for k, v in _collate(chunk).items()}
                out = module(**batch)
                if "loss" in out:
                    losses.append(float(out["loss"]) * len(chunk))
                intent_p = out["intent_logits"].float().softmax(-1).cpu()
                token_p = out["token_logits"].float().softmax(-1).cpu()
                for j, item in enumerate(chunk):
                    text = texts[lo + j]
                    best = int(intent_p[j].argmax())
                    n = len(item["input_ids"])
                    parses.append(Parse(text=text, intent=INTENTS[best],
                                        intent_score=round(float(intent_p[j, best]), 6),
                                        entities=self._decode(text, item["content"],
                                                              token_p[j, :n])))
        return parses, (sum(losses) / len(items) if losses and items else float("nan"))

    def _decode(self, text: str, content: Sequence[tuple[int, int]],
                probs: torch.Tensor) -> list[Span]:
        """Runs of B/I tags → character spans over ``text``, particles trimmed."""
        groups: list[tuple[str, list[int]]] = []
        last = -1  # index of the previous token with characters
        for i, (start, end) in enumerate(content):
            if start >= end:
                continue
            label = LABELS[int(probs[i].argmax())]
            if label == "O":
                last = i
                continue
            prefix, etype = label.split("-", 1)
            if prefix == "I" and groups and groups[-1][0] == etype and groups[-1][1][-1] == last:
                groups[-1][1].append(i)
            else:  # a B, or an I after something else: a stray I starts a span too
                groups.append((etype, [i]))
            last = i
        spans = []
        for etype, idx in groups:
            start, end = trim_span(text, content[idx[0]][0], content[idx[-1]][1], self.known_)
            if end <= start:
                continue
            score = float(probs[idx].max(-1).values.mean())
            if self.config.gazetteer_types and etype in _PLACES:
                # A listed name's list decides between country, city and POI: the tags mix
                # them up for unseen names, the spans they find are right far more often.
                etype = self.place_type_.get(text[start:end], etype)
            spans.append(Span(type=etype, start=start, end=end, text=text[start:end],
                              score=round(score, 6)))
        return spans

    def parse(self, texts: list[str]) -> list[Parse]:
        """Parses a batch; empty or blank text is ``other`` with no entities. Text beyond
        ``max_length`` tokens is cut off (its entities are not found)."""
        self._check_fitted()
        live = [i for i, t in enumerate(texts) if t and t.strip()]
        out = [Parse(text=t, intent="other", intent_score=1.0, entities=[]) for t in texts]
        if live:
            live_texts = [texts[i] for i in live]
            parses, _ = self._predict(live_texts, self._encode(live_texts))
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
        self.tokenizer_.save_pretrained(directory / _ENCODER_DIR)
        heads = {k: v for k, v in self.module_.state_dict().items()
                 if not k.startswith("encoder.")}
        torch.save(heads, directory / _HEADS_FILE)
        state = {"model_type": "joint-e5", "config": dataclasses.asdict(self.config),
                 "labels": list(LABELS), "intents": list(INTENTS), "gazetteer": self._lists(),
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
        state = json.loads((directory / _CONFIG_FILE).read_text(encoding="utf-8"))
        if state.get("model_type") != "joint-e5" or tuple(state["labels"]) != LABELS \
                or tuple(state["intents"]) != INTENTS:
            raise DataError(f"{directory} holds another model or label set", field="directory",
                            fix="load it with its own class, or retrain")
        model = cls(gazetteer=state["gazetteer"], encoder=directory / _ENCODER_DIR,
                    config=JointConfig(**state["config"]))
        encoder = BertModel.from_pretrained(directory / _ENCODER_DIR, add_pooling_layer=False,
                                            local_files_only=True)
        model.tokenizer_ = PreTrainedTokenizerFast.from_pretrained(directory / _ENCODER_DIR,
                                                                   local_files_only=True)
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
