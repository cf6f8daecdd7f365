"""Shared building blocks for the neural next-item models (no model imports another).

``ModelOutput`` is what every model's ``forward`` returns; ``pad_left`` turns ragged histories
into a batch; ``ItemFeatures`` encodes item metadata (city, genres, year …) as integer codes and
``MetadataEmbedding`` embeds them beside the item id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from recstack.errors import ConfigError, DataError


@dataclass
class ModelOutput:
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None


def pad_left(sequences: list[np.ndarray], max_length: int) -> np.ndarray:
    """(B, T) int64 batch: each row the last ``max_length`` ids, left-padded with 0."""
    out = np.zeros((len(sequences), max_length), dtype=np.int64)
    for r, seq in enumerate(sequences):
        tail = np.asarray(seq, dtype=np.int64)[-max_length:]
        if len(tail):
            out[r, max_length - len(tail):] = tail
    return out


def field_names(spec: str) -> list[str]:
    """``"city, category"`` → ``["city", "category"]``: the ``metadata_fields`` config format."""
    return [f.strip() for f in spec.split(",") if f.strip()]


def check_pointwise_config(config: Any, losses: tuple[str, ...],
                           item_features: ItemFeatures | None) -> tuple[list[int], list[str]]:
    """Validate a bag-of-history model's config (NCF, DeepFM); return MLP widths and fields.

    The config needs ``n_items``, ``loss``, ``n_negatives``, ``targets_per_sequence``,
    ``max_length``, ``mlp_layers`` (``"128,64"``) and ``metadata_fields``.
    """
    if config.n_items < 1:
        raise ConfigError("n_items must be set from the data", field="n_items",
                          fix="set n_items to the catalogue size before building the model")
    if config.loss not in losses:
        raise ConfigError(f"unknown loss {config.loss!r}", field="loss",
                          fix=f"choose from: {', '.join(losses)}")
    if config.n_negatives < 1 or config.targets_per_sequence < 0 or config.max_length < 1:
        raise ConfigError("n_negatives and max_length must be >= 1, targets_per_sequence >= 0",
                          field="n_negatives", fix="use positive counts")
    try:
        widths = [int(w) for w in config.mlp_layers.split(",")]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        raise ConfigError(f"mlp_layers {config.mlp_layers!r} is not a list of widths",
                          field="mlp_layers", fix='write positive widths like "128,64"')
    fields = field_names(config.metadata_fields)
    missing = [f for f in fields if item_features is None or f not in item_features.fields]
    if missing:
        raise ConfigError(f"no item features for metadata field(s) {missing}",
                          field="metadata_fields",
                          fix="pass ItemFeatures.from_metadata(...) with them, or drop them")
    return widths, fields


def next_item_pairs(sequences: list[np.ndarray], max_length: int, per_sequence: int,
                    n_negatives: int, n_items: int,
                    rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """A pointwise next-item batch: prefixes, the item after each, and uniform negatives.

    Each sequence's latest ``max_length + 1`` items give ``item_ids`` (B, T) = all but the last
    and ``positives`` (B, T) = all but the first, so ``positives[b, t]`` follows
    ``item_ids[b, :t + 1]``. ``per_sequence`` > 0 keeps that many random target positions per
    row (all when fewer), the rest become 0 (not counted). ``negatives`` (N, n_negatives) belong
    to the N counted positions in row-major order and never equal their positive.
    """
    tails = [np.asarray(s, dtype=np.int64)[-(max_length + 1):] for s in sequences]
    inputs = pad_left([t[:-1] for t in tails], max_length)  # (B, T)
    targets = pad_left([t[1:] for t in tails], max_length)  # (B, T)
    if per_sequence > 0:
        # Rank the real positions of each row by a random key; keep the first per_sequence.
        keys = np.where(targets > 0, rng.random(targets.shape), np.inf)  # (B, T)
        rank = np.argsort(np.argsort(keys, axis=1), axis=1)  # (B, T)
        targets = np.where(rank < per_sequence, targets, 0)
    positives = targets[targets > 0]  # (N,) row-major, as torch's boolean indexing
    negatives = rng.integers(1, n_items + 1, size=(len(positives), n_negatives))
    # A negative equal to the positive would be pushed up and down at once: move it on.
    clash = negatives == positives[:, None]
    negatives[clash] = negatives[clash] % n_items + 1
    return {"item_ids": torch.as_tensor(inputs), "positives": torch.as_tensor(targets),
            "negatives": torch.as_tensor(negatives)}


@dataclass
class ItemFeatures:
    """Item metadata as codes: ``codes[field]`` is (n_items + 1, width) int64, 0 = none.

    Multi-valued fields (``"Action|Comedy"``) keep up to ``width`` values per item; numbers are
    bucketed (years by decade). Row 0 is padding.
    """

    fields: list[str]
    codes: dict[str, np.ndarray]
    vocab_sizes: dict[str, int]  # number of codes including 0

    @classmethod
    def from_metadata(cls, metadata: pd.DataFrame | None, fields: list[str], n_items: int,
                      max_values: int = 4) -> ItemFeatures:
        """Encode ``fields`` of a metadata frame indexed by internal id (1..n_items)."""
        if not fields:
            return cls([], {}, {})
        if metadata is None:
            raise DataError("this dataset has no item metadata", field="metadata_fields",
                            fix="use a dataset with item metadata or set metadata_fields=''")
        codes, sizes = {}, {}
        for name in fields:
            if name not in metadata.columns:
                raise DataError(f"item metadata has no field {name!r}", field="metadata_fields",
                                fix=f"choose from: {', '.join(map(str, metadata.columns))}")
            values = metadata[name].reindex(range(1, n_items + 1))
            codes[name], sizes[name] = _encode_field(values, max_values)
        return cls(list(fields), codes, sizes)

    def tensors(self, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        return {f: torch.as_tensor(c, device=device) for f, c in self.codes.items()}

    def to_dict(self) -> dict[str, object]:
        return {"fields": self.fields, "codes": {f: c.tolist() for f, c in self.codes.items()},
                "vocab_sizes": self.vocab_sizes}

    @classmethod
    def from_dict(cls, data: dict) -> ItemFeatures:
        return cls(list(data["fields"]),
                   {f: np.asarray(c, dtype=np.int64) for f, c in data["codes"].items()},
                   {f: int(v) for f, v in data["vocab_sizes"].items()})


def _encode_field(values: pd.Series, max_values: int) -> tuple[np.ndarray, int]:
    if pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce")
        # years and similar: decades are coarse enough to share statistics
        tokens = [[] if pd.isna(v) else [str(int(v) // 10 * 10)] for v in numbers]
    else:
        tokens = [[] if pd.isna(v) else [t for t in str(v).split("|") if t][:max_values]
                  for v in values]
    vocab = {t: i + 1 for i, t in enumerate(sorted({t for ts in tokens for t in ts}))}
    width = max(1, max(len(ts) for ts in tokens) if tokens else 1)
    codes = np.zeros((len(tokens) + 1, width), dtype=np.int64)
    for r, ts in enumerate(tokens, start=1):
        codes[r, : len(ts)] = [vocab[t] for t in ts]
    return codes, len(vocab) + 1


class MetadataEmbedding(nn.Module):
    """Sum over fields of the mean embedding of an item's metadata values.

    ``forward(item_ids)`` (B, T) → (B, T, D); items without a value in a field add nothing.
    """

    def __init__(self, features: ItemFeatures, dim: int):
        super().__init__()
        self.fields = list(features.fields)
        self.tables = nn.ModuleDict({f: nn.Embedding(features.vocab_sizes[f], dim, padding_idx=0)
                                     for f in self.fields})
        for f in self.fields:
            self.register_buffer(f"codes_{f}", torch.as_tensor(features.codes[f]),
                                 persistent=True)

    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        out = None
        for f in self.fields:
            codes = getattr(self, f"codes_{f}")[item_ids]  # (B, T, W)
            emb = self.tables[f](codes)  # (B, T, W, D)
            count = (codes > 0).sum(-1, keepdim=True).clamp(min=1)  # (B, T, 1)
            field_emb = emb.sum(-2) / count  # (B, T, D)
            out = field_emb if out is None else out + field_emb
        assert out is not None, "MetadataEmbedding needs at least one field"
        return out
