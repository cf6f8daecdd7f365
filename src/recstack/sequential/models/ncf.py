"""NeuMF (Neural Collaborative Filtering) over a history bag: a non-sequential next-item baseline.

Paper: He et al., "Neural Collaborative Filtering", WWW 2017, https://arxiv.org/abs/1708.05031
(reference code: github.com/hexiangnan/neural_collaborative_filtering). NeuMF sums two branches
through one output layer: GMF, the elementwise product of a user vector and an item vector, and
an MLP over their concatenation; each branch has its own embeddings.

The user side is not a user-id embedding. recstack serves requests that carry only an item
history (the user may be unknown at serving time), so the user vector of each branch is the
history as an unordered bag: the mean of the embeddings of its last ``max_length`` items,
padding excluded, as in FISM (Kabbur et al., KDD 2013, https://doi.org/10.1145/2487575.2487589).
History items and candidate items have separate tables (FISM's P and Q). Order inside the bag is
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
# move): on the travel data, 0.1 reached NDCG@10 0.45 after 9 epochs where 0.01 reached 0.34.
_EMBED_STD = 0.1


@dataclass
class NCFConfig:
    n_items: int = 0  # set from the data at fit time
    max_length: int = 200  # latest history items averaged into the user vector
    metadata_fields: str = ""  # comma-separated item metadata columns added to item vectors
    gmf_dim: int = 64  # GMF predictive factors (the paper tries 8-64; more helps on ML-1M)
    mlp_dim: int = 64  # MLP embedding per side; the tower's input is twice this
    mlp_layers: str = "128,64,32"  # MLP tower widths, halving each layer as in the paper
    dropout: float = 0.0  # on the MLP tower; the paper uses none
    loss: str = "bce"  # "bce": pointwise log loss (paper); "sampled_ce": softmax over negatives
    n_negatives: int = 4  # uniform negatives per positive; the paper's best ratio is 3-6
    targets_per_sequence: int = 0  # random target positions per sequence and batch (0 = all)


class NCFModel(nn.Module):
    """NeuMF scoring (history bag, candidate item) pairs; see the module docstring."""

    def __init__(self, config: NCFConfig, item_features: ItemFeatures | None = None):
        super().__init__()
        widths, fields = check_pointwise_config(config, LOSSES, item_features)
        self.config = config
        n_rows = config.n_items + 1  # row 0 is padding
        # FISM's two tables per branch: P for items in the history bag, Q for candidates.
        self.gmf_history = nn.Embedding(n_rows, config.gmf_dim, padding_idx=0)
        self.gmf_item = nn.Embedding(n_rows, config.gmf_dim, padding_idx=0)
        self.mlp_history = nn.Embedding(n_rows, config.mlp_dim, padding_idx=0)
        self.mlp_item = nn.Embedding(n_rows, config.mlp_dim, padding_idx=0)
        self.gmf_meta = self.mlp_meta = None
        if fields and item_features is not None:
            chosen = ItemFeatures(fields, {f: item_features.codes[f] for f in fields},
                                  {f: item_features.vocab_sizes[f] for f in fields})
            # One table per branch, shared by both sides: a genre vector in the bag meets the
            # same vector on the candidate, so GMF can learn "likes this genre".
            self.gmf_meta = MetadataEmbedding(chosen, config.gmf_dim)
            self.mlp_meta = MetadataEmbedding(chosen, config.mlp_dim)
        # The first tower layer acts on concat(user, item); forward splits its weight so that
        # the user half is computed once per user, not once per (user, item) pair.
        self.mlp_first = nn.Linear(2 * config.mlp_dim, widths[0])
        self.mlp_rest = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(widths))
        self.dropout = nn.Dropout(config.dropout)
        self.predict = nn.Linear(config.gmf_dim + widths[-1], 1)
        self._init_weights()

    def _init_weights(self) -> None:
        # As the reference code (dense layers LeCun-uniform, zero biases), but embeddings
        # N(0, _EMBED_STD²): see _EMBED_STD.
        for module in self.modules():
            if isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=_EMBED_STD)
                if module.padding_idx is not None:
                    nn.init.zeros_(module.weight[module.padding_idx])
            elif isinstance(module, nn.Linear):
                bound = math.sqrt(3.0 / module.in_features)
                nn.init.uniform_(module.weight, -bound, bound)
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
        gmf_bag, mlp_bag = self._prefix_bags(item_ids)  # (B, T, Dg), (B, T, Dm)
        user = self._user_side(gmf_bag[counted], mlp_bag[counted])  # (N, Dg), (N, H1)
        candidates = torch.cat([positives[counted].unsqueeze(1), negatives], dim=1)  # (N, 1 + K)
        logits = self._pair_scores(user, self._item_side(candidates))  # (N, 1 + K)
        mask = torch.ones(len(logits), dtype=torch.bool, device=logits.device)  # all counted
        loss_fn = sampled_bce if self.config.loss == "bce" else sampled_softmax_ce
        return ModelOutput(loss=loss_fn(logits[:, 0], logits[:, 1:], mask))

    def score(self, item_ids: torch.Tensor) -> torch.Tensor:
        """(B, T) left-padded histories → (B, n_items + 1) next-item scores (column 0 = −inf)."""
        gmf_bag, mlp_bag = self._prefix_bags(item_ids[:, -self.config.max_length:])
        gmf_u, mlp_u = self._user_side(gmf_bag[:, -1], mlp_bag[:, -1])  # (B, Dg), (B, H1)
        all_items = torch.arange(self.config.n_items + 1, device=item_ids.device)
        gmf_v, mlp_v = self._item_side(all_items)  # (I + 1, Dg), (I + 1, H1)
        w_gmf, w_mlp = self._predict_weights()
        # GMF through the output layer is a plain matmul over the catalogue.
        scores = (gmf_u * w_gmf) @ gmf_v.T + self.predict.bias  # (B, I + 1)
        # The MLP tower needs every (user, item) pair; chunk items to bound memory.
        chunk = max(1, _SCORE_CHUNK_ELEMENTS // max(1, mlp_u.shape[0] * mlp_u.shape[1]))
        mlp_parts = [self._tower(mlp_u.unsqueeze(1) + mlp_v[start:start + chunk]) @ w_mlp
                     for start in range(0, mlp_v.shape[0], chunk)]  # each (B, C)
        scores = scores + torch.cat(mlp_parts, dim=1)  # (B, I + 1)
        scores[:, 0] = -torch.inf  # padding is never a recommendation
        return scores

    def _prefix_bags(self, item_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean history vector of every prefix ``item_ids[:, :t + 1]``, padding left out.

        Running sums give all T bags for the price of one embedding lookup, where separate bags
        per target would look up T items each. Returns GMF (B, T, Dg) and MLP (B, T, Dm).
        """
        count = (item_ids > 0).cumsum(dim=1).clamp(min=1).unsqueeze(-1)  # (B, T, 1)
        # Row 0 of both tables is zero (padding_idx, no metadata codes), so padding adds nothing.
        gmf = F.embedding(item_ids, _with_meta(self.gmf_history.weight, self.gmf_meta))
        mlp = F.embedding(item_ids, _with_meta(self.mlp_history.weight, self.mlp_meta))
        return gmf.cumsum(dim=1) / count, mlp.cumsum(dim=1) / count  # (B, T, D) each

    def _user_side(self, gmf_bag: torch.Tensor,
                   mlp_bag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Bags (N, D) → GMF user vector (N, Dg) and the MLP first layer's user half (N, H1)."""
        d = self.config.mlp_dim
        return gmf_bag, F.linear(mlp_bag, self.mlp_first.weight[:, :d], self.mlp_first.bias)

    def _item_side(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidate vectors for ids of any shape (...): GMF (..., Dg), MLP first half (..., H1)."""
        gmf_v, mlp_v = self.gmf_item(ids), self.mlp_item(ids)
        if self.gmf_meta is not None and self.mlp_meta is not None:
            flat = ids.reshape(1, -1)  # MetadataEmbedding takes (B, T)
            gmf_v = gmf_v + self.gmf_meta(flat).reshape(gmf_v.shape)
            mlp_v = mlp_v + self.mlp_meta(flat).reshape(mlp_v.shape)
        d = self.config.mlp_dim
        return gmf_v, F.linear(mlp_v, self.mlp_first.weight[:, d:])

    def _pair_scores(self, user: tuple[torch.Tensor, torch.Tensor],
                     item: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """(N, ·) users against (N, M, ·) candidates → (N, M) logits."""
        (gmf_u, mlp_u), (gmf_v, mlp_v) = user, item
        w_gmf, w_mlp = self._predict_weights()
        gmf = ((gmf_u * w_gmf).unsqueeze(1) * gmf_v).sum(-1)  # (N, M)
        mlp = self._tower(mlp_u.unsqueeze(1) + mlp_v) @ w_mlp  # (N, M)
        return gmf + mlp + self.predict.bias

    def _tower(self, first: torch.Tensor) -> torch.Tensor:
        """MLP tower from the first layer's pre-activation (..., H1) to (..., H_last)."""
        # In place: every input here is a fresh tensor, and scoring the whole catalogue is
        # bound by memory traffic over these (B, items, H) activations.
        hidden = self.dropout(F.relu(first, inplace=True))
        for layer in self.mlp_rest:
            hidden = self.dropout(F.relu(layer(hidden), inplace=True))
        return hidden

    def _predict_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The output layer's weight split into its GMF (Dg,) and MLP (H_last,) parts."""
        weight = self.predict.weight[0]
        return weight[: self.config.gmf_dim], weight[self.config.gmf_dim:]


def _with_meta(weight: torch.Tensor, meta: MetadataEmbedding | None) -> torch.Tensor:
    """The (I + 1, D) table of history-item vectors, metadata added when configured."""
    if meta is None:
        return weight
    all_items = torch.arange(weight.shape[0], device=weight.device).unsqueeze(0)  # (1, I + 1)
    return weight + meta(all_items)[0]
