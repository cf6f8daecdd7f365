"""DeepFM over a history bag and the candidate item: a non-sequential next-item baseline.

Paper: Guo et al., "DeepFM: A Factorization-Machine based Neural Network for CTR Prediction",
IJCAI 2017, https://arxiv.org/abs/1703.04247. The logit is the sum of first-order weights, the
FM's pairwise inner products of field embeddings and a deep MLP over the concatenated field
embeddings; FM and MLP share the embeddings.

Fields: the user's history, the candidate item id and, when ``metadata_fields`` is set, one field
per metadata column of the candidate (multi-valued columns such as genres pooled by mean). The
user is not a user-id field: recstack serves requests that carry only an item history (the user
may be unknown at serving time), so the user is the history as an unordered bag, one
multi-valent field pooled by mean over its last ``max_length`` items with padding excluded, as in
FISM (Kabbur et al., KDD 2013, https://doi.org/10.1145/2487575.2487589). Order inside the bag is
ignored, which is why this model sits well below the sequential ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recstack.sequential.losses import sampled_bce, sampled_softmax_ce
from recstack.sequential.modules import (
    ItemFeatures,
    MetadataEmbedding,
    ModelOutput,
    check_pointwise_config,
    next_item_pairs,
)

LOSSES = ("bce", "sampled_ce")
_SCORE_CHUNK_ELEMENTS = 1 << 24  # (B, items, H) activations per scoring chunk: ~64 MB in fp32
# Embedding init std. The reference code's 0.01 leaves the model on a popularity plateau for
# hundreds of steps (history means shrink it further, and products of two small vectors barely
# move): on the travel data, 0.1 reached NDCG@10 0.43 after 9 epochs where 0.01 reached 0.22.
_EMBED_STD = 0.1


@dataclass
class DeepFMConfig:
    n_items: int = 0  # set from the data at fit time
    max_length: int = 200  # latest history items pooled into the history field
    metadata_fields: str = ""  # comma-separated metadata columns, one field each ("" = none)
    embedding_dim: int = 64  # field embedding size, shared by the FM and the deep part
    mlp_layers: str = "128,64"  # deep widths; the paper's 400-400-400 was for 39 fields, not 2-5
    dropout: float = 0.0  # on the deep layers (the paper's 0.5 targets sparse CTR data)
    loss: str = "sampled_ce"  # softmax over the negatives; "bce": pointwise log loss (CTR-style)
    n_negatives: int = 64  # uniform negatives per positive (4 suits "bce")
    targets_per_sequence: int = 32  # random targets per sequence and batch (0 = all; suits "bce")


class DeepFMModel(nn.Module):
    """DeepFM scoring (history bag, candidate item) pairs; see the module docstring."""

    def __init__(self, config: DeepFMConfig, item_features: ItemFeatures | None = None):
        super().__init__()
        widths, fields = check_pointwise_config(config, LOSSES, item_features)
        self.config = config
        n_rows, dim = config.n_items + 1, config.embedding_dim  # row 0 is padding
        self.history_emb = nn.Embedding(n_rows, dim, padding_idx=0)  # (I + 1, D)
        self.history_w = nn.Embedding(n_rows, 1, padding_idx=0)  # first-order weights
        self.item_emb = nn.Embedding(n_rows, dim, padding_idx=0)
        self.item_w = nn.Embedding(n_rows, 1, padding_idx=0)
        # One MetadataEmbedding per field keeps fields apart, as the FM needs, where a single
        # one would sum them into one vector.
        single = {f: _single_field(item_features, f) for f in fields} if item_features else {}
        self.meta_emb = nn.ModuleDict({f: MetadataEmbedding(single[f], dim) for f in fields})
        self.meta_w = nn.ModuleDict({f: MetadataEmbedding(single[f], 1) for f in fields})
        self.bias = nn.Parameter(torch.zeros(()))
        # The first deep layer acts on concat(history, item, metadata...); forward splits its
        # weight so the history part is computed once per user, the rest once per item.
        self.deep_first = nn.Linear((2 + len(fields)) * dim, widths[0])
        self.deep_rest = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(widths))
        self.deep_out = nn.Linear(widths[-1], 1)
        self.dropout = nn.Dropout(config.dropout)
        self._init_weights()

    def _init_weights(self) -> None:
        # As the reference code (ChenglongChen/tensorflow-DeepFM), dense layers Glorot-normal,
        # but embeddings N(0, _EMBED_STD²) (see there); first-order weights start at zero.
        for module in self.modules():
            if isinstance(module, nn.Embedding):
                if module.embedding_dim == 1:
                    nn.init.zeros_(module.weight)
                else:
                    nn.init.normal_(module.weight, std=_EMBED_STD)
                    nn.init.zeros_(module.weight[0])
            elif isinstance(module, nn.Linear):
                std = math.sqrt(2.0 / (module.in_features + module.out_features))
                nn.init.normal_(module.weight, std=std)
                nn.init.zeros_(module.bias)

    def training_batch(self, sequences: list[np.ndarray],
                       rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """Inputs, next-item targets at chosen positions, and uniform negatives.

        The layout is ``next_item_pairs``'s: ``positives[b, t]`` follows the bag of
        ``item_ids[b, :t + 1]``, and ``targets_per_sequence`` random positions per row count.
        """
        cfg = self.config
        return next_item_pairs(sequences, cfg.max_length, cfg.targets_per_sequence,
                               cfg.n_negatives, cfg.n_items, rng)

    def forward(self, item_ids: torch.Tensor, positives: torch.Tensor | None = None,
                negatives: torch.Tensor | None = None) -> ModelOutput:
        """Loss on the counted positions when targets are given, else all-item scores as logits.

        Args:
            item_ids: (B, T) left-padded inputs.
            positives: (B, T) next item after each prefix, 0 where the position does not count.
            negatives: (N, K) negatives of the N counted positions, in row-major order.
        """
        if positives is None or negatives is None:
            return ModelOutput(logits=self.score(item_ids))
        counted = positives > 0  # (B, T)
        emb_bag, w_bag = self._prefix_bags(item_ids)  # (B, T, D), (B, T)
        e_u, w_u, deep_u = self._user_side(emb_bag[counted], w_bag[counted])  # (N, ·)
        candidates = torch.cat([positives[counted].unsqueeze(1), negatives], dim=1)  # (N, 1 + K)
        first, fm_vec, fm_self, deep_v = self._item_side(candidates)  # (N, 1 + K, ·)
        logits = (self.bias + w_u.unsqueeze(1) + first + fm_self
                  + (e_u.unsqueeze(1) * fm_vec).sum(-1)  # FM: history × item fields
                  + self._deep(deep_u.unsqueeze(1) + deep_v))  # (N, 1 + K)
        mask = torch.ones(len(logits), dtype=torch.bool, device=logits.device)  # all counted
        loss_fn = sampled_bce if self.config.loss == "bce" else sampled_softmax_ce
        return ModelOutput(loss=loss_fn(logits[:, 0], logits[:, 1:], mask))

    def score(self, item_ids: torch.Tensor) -> torch.Tensor:
        """(B, T) left-padded histories → (B, n_items + 1) next-item scores (column 0 = −inf)."""
        emb_bag, w_bag = self._prefix_bags(item_ids[:, -self.config.max_length:])
        e_u, w_u, deep_u = self._user_side(emb_bag[:, -1], w_bag[:, -1])  # (B, D), (B,), (B, H1)
        all_items = torch.arange(self.config.n_items + 1, device=item_ids.device)
        first, fm_vec, fm_self, deep_v = self._item_side(all_items)  # (I + 1, ·)
        # Every term but the deep part is a matmul or a broadcast over the catalogue.
        scores = self.bias + w_u.unsqueeze(1) + (first + fm_self) + e_u @ fm_vec.T  # (B, I + 1)
        chunk = max(1, _SCORE_CHUNK_ELEMENTS // max(1, deep_u.shape[0] * deep_u.shape[1]))
        deep = [self._deep(deep_u.unsqueeze(1) + deep_v[start:start + chunk])  # (B, C)
                for start in range(0, deep_v.shape[0], chunk)]
        scores = scores + torch.cat(deep, dim=1)  # (B, I + 1)
        scores[:, 0] = -torch.inf  # padding is never a recommendation
        return scores

    def _prefix_bags(self, item_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """History field of every prefix ``item_ids[:, :t + 1]``: mean embedding (B, T, D) and
        mean first-order weight (B, T), padding left out.

        Running sums give all T bags for the price of one embedding lookup, where separate bags
        per target would look up T items each.
        """
        count = (item_ids > 0).cumsum(dim=1).clamp(min=1).unsqueeze(-1)  # (B, T, 1)
        emb = self.history_emb(item_ids).cumsum(dim=1) / count  # (B, T, D); padding row is 0
        w = self.history_w(item_ids).cumsum(dim=1) / count  # (B, T, 1)
        return emb, w[..., 0]

    def _user_side(self, emb_bag: torch.Tensor, w_bag: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """History field (N, D) and first-order weight (N,), plus the deep layer-1 part (N, H1)."""
        d = self.config.embedding_dim
        return emb_bag, w_bag, F.linear(emb_bag, self.deep_first.weight[:, :d],
                                        self.deep_first.bias)

    def _item_side(self, ids: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Item fields for ids of any shape (...).

        Returns their first-order sum (...), embedding sum (..., D) for the FM with the history,
        the FM among themselves (...) and the deep first-layer part (..., H1).
        """
        embs, first = [self.item_emb(ids)], self.item_w(ids)[..., 0]  # [(..., D)], (...)
        flat = ids.reshape(1, -1)  # MetadataEmbedding takes (B, T)
        for f in self.meta_emb:
            embs.append(self.meta_emb[f](flat).reshape(*ids.shape, -1))  # (..., D)
            first = first + self.meta_w[f](flat).reshape(ids.shape)
        fields = torch.stack(embs, dim=-2)  # (..., F, D)
        fm_vec = fields.sum(-2)  # (..., D)
        # FM identity: Σ_{i<j} <e_i, e_j> = ½ (|Σ e|² − Σ |e|²), linear in the number of fields.
        fm_self = 0.5 * (fm_vec.pow(2).sum(-1) - fields.pow(2).sum((-2, -1)))  # (...)
        d = self.config.embedding_dim
        deep_v = F.linear(fields.flatten(-2), self.deep_first.weight[:, d:])  # (..., H1)
        return first, fm_vec, fm_self, deep_v

    def _deep(self, first: torch.Tensor) -> torch.Tensor:
        """Deep part from the first layer's pre-activation (..., H1) to one logit each (...)."""
        # In place: every input here is a fresh tensor, and scoring the whole catalogue is
        # bound by memory traffic over these (B, items, H) activations.
        hidden = self.dropout(F.relu(first, inplace=True))
        for layer in self.deep_rest:
            hidden = self.dropout(F.relu(layer(hidden), inplace=True))
        return self.deep_out(hidden)[..., 0]


def _single_field(features: ItemFeatures, name: str) -> ItemFeatures:
    """The one-field slice of ``features``, so that each field gets its own embedding."""
    return ItemFeatures([name], {name: features.codes[name]},
                        {name: features.vocab_sizes[name]})
