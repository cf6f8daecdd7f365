"""SASRec: self-attentive sequential recommendation, with the SASRec+ and gSASRec losses.

Papers:
- Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018
  (https://arxiv.org/abs/1808.09781): a causal transformer over the item sequence; every
  position predicts the next item; BCE with one sampled negative per position.
- Klenitskiy & Vasilev, "Turning Dross Into Gold Loss: is BERT4Rec really better than SASRec?",
  RecSys 2023 (https://arxiv.org/abs/2309.07602): SASRec+ trains the same network with
  cross-entropy over the whole catalogue (``loss="ce"``) or over sampled negatives
  (``loss="sampled_ce"``) and beats BERT4Rec.
- Petrov & Macdonald, "gSASRec: Reducing Overconfidence in Sequential Recommendation Trained
  with Negative Sampling", RecSys 2023 (https://arxiv.org/abs/2308.07192): gBCE
  (``loss="gbce"``); ``PRESETS["gsasrec"]`` holds its settings.

The block follows the SASRec reference (pmixer/SASRec.pytorch, which SASRec+ adapts): the query
is layer-normalised, the residual is added to the normalised query, a point-wise feed-forward
with its own residual follows, and a final layer norm closes the stack. Histories are
left-padded; positions count back from the most recent item, so the last item always has the
same position embedding in training and in ``score``. Padded keys are masked out (each position
may always attend to itself, so no attention row is empty), which makes a row's output
independent of how much padding precedes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recstack.errors import ConfigError
from recstack.sequential.losses import (
    counted_rows,
    full_softmax_ce,
    gbce,
    gbce_beta,
    sampled_bce,
    sampled_softmax_ce,
)
from recstack.sequential.modules import (
    ItemFeatures,
    MetadataEmbedding,
    ModelOutput,
    field_names,
    pad_left,
)

LOSSES = ("ce", "bce", "gbce", "sampled_ce")

# Config overrides that turn SASRec into gSASRec (Petrov & Macdonald 2023, asash/gSASRec-pytorch).
PRESETS: dict[str, dict[str, object]] = {
    "gsasrec": {
        "loss": "gbce",
        "n_negatives": 256,
        "gbce_t": 0.75,
        "tie_output": False,  # gSASRec scores with separate output embeddings
        "hidden": 128,
        "n_blocks": 2,
        "n_heads": 1,
        "dropout": 0.5,
        "max_length": 200,
    },
}


@dataclass
class SASRecConfig:
    """SASRec hyper-parameters; the defaults are the best found on ML-1M-T2 within a CPU budget.

    ML-1M-T2 valid NDCG@10 (full ranking, seen excluded; one CPU thread, bf16 autocast, Adam
    lr 1e-3, batch 128, loss "ce"): hidden 128 / dropout 0.2 reached 0.172 after 13 epochs
    (~55 CPU-s each); SASRec+'s hidden 64 / dropout 0.1 needed 23 epochs (~44 CPU-s each)
    for 0.172. Both were still rising when stopped. Best test figure so far (2 CPU threads):
    hidden 256 with bf16 autocast and cosine decay over 45 epochs, NDCG@10 0.1941 in 37 min
    (hidden 128, 55 epochs: 0.1883 in 35 min); the default stays 128 for small catalogues.
    """

    n_items: int = 0  # set from the data at fit time
    max_length: int = 200  # history positions the model reads (left-truncated); SASRec+ on ML-1M
    metadata_fields: str = ""  # comma-separated item metadata columns added to the item embedding
    hidden: int = 128  # model width; learns faster per CPU-second than SASRec+'s 64
    n_blocks: int = 2  # transformer blocks, as in SASRec and SASRec+
    n_heads: int = 1  # attention heads; one is enough at width 64 (SASRec ablation)
    ffn_dim: int = 0  # feed-forward width; 0 = hidden, the point-wise FFN of the paper
    dropout: float = 0.2  # on embeddings and the feed-forward; width 128 wants more than 0.1
    # on attention weights: off, because on CPU it forces the slow math attention kernel
    # (~10x the encoder time at T=200) and the other dropouts regularise enough
    attn_dropout: float = 0.0
    init_std: float = 0.02  # normal init of linear and embedding weights (SASRec+ / GPT-2)
    tie_output: bool = True  # score with the input item embeddings; False adds output embeddings
    loss: str = "ce"  # "ce" full softmax (SASRec+), "bce" (SASRec), "gbce", "sampled_ce"
    n_negatives: int = 256  # sampled negatives per sequence for "gbce" and "sampled_ce"
    gbce_t: float = 0.75  # gBCE calibration t; 0 is plain BCE, 1 the full-softmax limit
    label_smoothing: float = 0.0  # "ce" only: target mass spread over all items (0 = off)
    train_window: str = "last"  # "last" or "random" max_length+1 window of longer sequences


class SASRecBlock(nn.Module):
    """One SASRec block: attention on the normalised query, then a point-wise feed-forward."""

    def __init__(self, config: SASRecConfig):
        super().__init__()
        d, self.n_heads, self.attn_dropout = config.hidden, config.n_heads, config.attn_dropout
        self.attn_norm = nn.LayerNorm(d, eps=1e-8)
        self.q_proj = nn.Linear(d, d)
        self.kv_proj = nn.Linear(d, 2 * d)
        self.out_proj = nn.Linear(d, d)
        self.ffn_norm = nn.LayerNorm(d, eps=1e-8)
        ffn = config.ffn_dim or d
        self.ffn = nn.Sequential(nn.Linear(d, ffn), nn.Dropout(config.dropout), nn.ReLU(),
                                 nn.Linear(ffn, d), nn.Dropout(config.dropout))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, D), attn_mask (B, 1, T, T) True where a query may attend → (B, T, D)."""
        b, t, d = x.shape
        query = self.attn_norm(x)  # (B, T, D)
        q = self.q_proj(query).view(b, t, self.n_heads, -1).transpose(1, 2)  # (B, H, T, D/H)
        k, v = self.kv_proj(x).view(b, t, 2, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.attn_dropout if self.training else 0.0)
        # residual on the normalised query, as in the SASRec reference implementations
        x = query + self.out_proj(attn.transpose(1, 2).reshape(b, t, d))  # (B, T, D)
        x = self.ffn_norm(x)
        return x + self.ffn(x)  # (B, T, D)


class SASRecModel(nn.Module):
    """Causal self-attention next-item model; see the module docstring for the papers."""

    def __init__(self, config: SASRecConfig, item_features: ItemFeatures | None = None):
        super().__init__()
        _check_config(config, item_features)
        self.config = config
        d = config.hidden
        self.item_emb = nn.Embedding(config.n_items + 1, d, padding_idx=0)
        self.pos_emb = nn.Embedding(config.max_length, d)
        self.meta_emb = (MetadataEmbedding(item_features, d)
                         if item_features is not None and item_features.fields else None)
        self.out_emb = None if config.tie_output else nn.Embedding(config.n_items + 1, d,
                                                                   padding_idx=0)
        self.emb_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(SASRecBlock(config) for _ in range(config.n_blocks))
        self.final_norm = nn.LayerNorm(d, eps=1e-8)
        self.apply(self._init_weights)
        # gBCE's β assumes K ≤ I − 1 negatives; a tiny catalogue is at most fully sampled
        n_negatives = min(config.n_negatives, max(config.n_items - 1, 1))
        self.beta = gbce_beta(n_negatives, config.n_items, config.gbce_t)
        # gBCE's loss is lowest for a constant score s = log(β / K), where β σ(−s) = K σ(s)
        # (−6.5 for 256 negatives). From a start at 0 the fastest way there is to collapse every
        # hidden state onto one vector pointing away from every item: within ~20 steps the
        # encoder's output no longer depends on the history and the model is stuck at
        # popularity (ML-100K: spread of the hidden states / their mean 144 → 0.0000). Starting
        # every logit at that constant leaves the encoder nothing to gain from collapsing; a
        # constant changes no ranking.
        self.logit_offset = math.log(self.beta / n_negatives) if config.loss == "gbce" else 0.0

    def _init_weights(self, module: nn.Module) -> None:
        # SASRec+ initialisation (normal std 0.02, zero biases, padding row zero)
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=self.config.init_std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()

    # ---- batches -------------------------------------------------------------------------

    def training_batch(self, sequences: list[np.ndarray],
                       rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """Inputs ``seq[:-1]`` and targets ``seq[1:]`` of a max_length+1 window per sequence.

        Sequences longer than max_length+1 keep their most recent window by default
        (``train_window="last"``, as SASRec+): that window holds the behaviour closest to what
        is predicted. ``"random"`` draws a window uniformly, which shows older items too.
        The batch is padded to its longest row, not to max_length (positions count from the
        right, so this changes nothing but speed). Negatives are uniform over 1..n_items:
        one per position for "bce" (the original SASRec), ``n_negatives`` per sequence shared by
        its positions for "gbce" / "sampled_ce" (per-position sets would need B·T·K·D memory);
        a negative that equals a position's target is masked out in ``forward``.
        """
        window = self.config.max_length + 1
        windows = []
        for seq in sequences:
            seq = np.asarray(seq, dtype=np.int64)
            start = len(seq) - window
            if start > 0 and self.config.train_window == "random":
                start = int(rng.integers(0, start + 1))
            windows.append(seq[max(start, 0):max(start, 0) + window])
        width = max(1, max(len(w) for w in windows) - 1)
        batch = {"item_ids": torch.as_tensor(pad_left([w[:-1] for w in windows], width)),
                 "targets": torch.as_tensor(pad_left([w[1:] for w in windows], width))}
        n, loss = self.config.n_items, self.config.loss
        if loss == "bce":
            batch["negatives"] = torch.as_tensor(rng.integers(1, n + 1, (len(windows), width, 1)))
        elif loss in ("gbce", "sampled_ce"):
            batch["negatives"] = torch.as_tensor(
                rng.integers(1, n + 1, (len(windows), self.config.n_negatives)))
        return batch

    # ---- network -------------------------------------------------------------------------

    def _item_repr(self, item_ids: torch.Tensor) -> torch.Tensor:
        """Input representation of items (..., D): id embedding plus metadata embedding."""
        emb = self.item_emb(item_ids)
        return emb + self.meta_emb(item_ids) if self.meta_emb is not None else emb

    def _output_repr(self, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Output representation (..., D) of ``item_ids``, or of the whole catalogue (I+1, D)."""
        if self.out_emb is not None:
            return self.out_emb.weight if item_ids is None else self.out_emb(item_ids)
        if item_ids is None and self.meta_emb is None:
            return self.item_emb.weight  # (I+1, D) without a gather copy
        if item_ids is None:
            item_ids = torch.arange(self.config.n_items + 1, device=self.item_emb.weight.device)
        return self._item_repr(item_ids)

    def encode(self, item_ids: torch.Tensor) -> torch.Tensor:
        """Left-padded histories (B, T) → hidden state (B, T, D) after each position."""
        item_ids = item_ids[:, -self.config.max_length:]
        t = item_ids.shape[1]
        keep = item_ids > 0  # (B, T)
        x = self._item_repr(item_ids) * self.config.hidden ** 0.5  # (B, T, D)
        positions = torch.arange(self.config.max_length - t, self.config.max_length,
                                 device=item_ids.device)
        x = self.emb_dropout(x + self.pos_emb(positions))  # (B, T, D)
        x = x * keep.unsqueeze(-1)
        causal = torch.ones(t, t, dtype=torch.bool, device=item_ids.device).tril()  # (T, T)
        eye = torch.eye(t, dtype=torch.bool, device=item_ids.device)
        attn_mask = ((causal & keep[:, None, :]) | eye).unsqueeze(1)  # (B, 1, T, T)
        for block in self.blocks:
            x = block(x, attn_mask) * keep.unsqueeze(-1)  # (B, T, D)
        return self.final_norm(x)  # (B, T, D)

    def forward(self, item_ids: torch.Tensor, targets: torch.Tensor | None = None,
                negatives: torch.Tensor | None = None) -> ModelOutput:
        """Loss over every position with a target; logits are left None (not needed to train).

        Args:
            item_ids: (B, T) left-padded inputs.
            targets: (B, T) next item per position, 0 where the position does not count.
            negatives: (B, T, 1) for "bce", (B, K) for "gbce" / "sampled_ce".
        """
        hidden = self.encode(item_ids)  # (B, T, D)
        if targets is None:
            return ModelOutput()
        mask = targets > 0  # (B, T)
        if self.config.loss == "ce":
            # logits only where a target exists: padding is ~half of an ML-1M batch
            if not mask.any():
                return ModelOutput(loss=hidden.sum() * 0.0)
            rows, wanted = counted_rows(hidden, targets)  # (N, D), (N,)
            items = self._output_repr()[1:]  # (I, D): the catalogue without padding, a view
            return ModelOutput(loss=full_softmax_ce(rows @ items.T, wanted,
                                                    self.config.label_smoothing))
        if negatives is None:
            raise ConfigError(f"loss {self.config.loss!r} needs sampled negatives",
                              field="negatives", fix="build the batch with training_batch")
        # float before the offset: a bf16 logit near −6.5 would keep steps of only 0.03
        pos = (hidden * self._output_repr(targets)).sum(-1).float() + self.logit_offset  # (B, T)
        if self.config.loss == "bce":
            neg = (hidden.unsqueeze(2) * self._output_repr(negatives)).sum(-1)  # (B, T, 1)
            return ModelOutput(loss=sampled_bce(pos, neg, mask))
        neg = torch.einsum("btd,bkd->btk", hidden, self._output_repr(negatives)).float()
        neg = neg + self.logit_offset
        neg = neg.masked_fill(negatives.unsqueeze(1) == targets.unsqueeze(2), -torch.inf)
        pos, neg, mask = pos[mask], neg[mask], mask[mask]  # (N,), (N, K), (N,) counted only
        if self.config.loss == "gbce":
            return ModelOutput(loss=gbce(pos, neg, mask, beta=self.beta))
        return ModelOutput(loss=sampled_softmax_ce(pos, neg, mask))

    def score(self, item_ids: torch.Tensor) -> torch.Tensor:
        """Left-padded histories (B, T) → scores (B, I + 1) for the next item; column 0 is −inf."""
        last = self.encode(item_ids)[:, -1]  # (B, D)
        # + the gBCE offset of training, so that σ(score) is the calibrated probability
        scores = (last @ self._output_repr().T).float() + self.logit_offset  # (B, I+1)
        scores[:, 0] = -torch.inf
        return scores


def _check_config(config: SASRecConfig, item_features: ItemFeatures | None) -> None:
    if config.n_items < 1:
        raise ConfigError("n_items is not set", field="n_items",
                          fix="set n_items from the data (largest internal item id)")
    if config.loss not in LOSSES:
        raise ConfigError(f"unknown loss {config.loss!r}", field="loss",
                          fix=f"use one of: {', '.join(LOSSES)}")
    if config.train_window not in ("last", "random"):
        raise ConfigError(f"unknown train_window {config.train_window!r}", field="train_window",
                          fix="use 'last' or 'random'")
    if config.hidden % config.n_heads:
        raise ConfigError(f"hidden {config.hidden} is not a multiple of n_heads {config.n_heads}",
                          field="n_heads", fix="choose n_heads dividing hidden")
    if not 0.0 <= config.label_smoothing < 1.0:
        raise ConfigError(f"label_smoothing {config.label_smoothing} is not in [0, 1)",
                          field="label_smoothing", fix="use e.g. 0.1 (0 = off)")
    if config.n_negatives < 1:
        raise ConfigError("n_negatives must be at least 1", field="n_negatives",
                          fix="use e.g. 256 for gbce, 3000 for sampled_ce")
    wanted = field_names(config.metadata_fields)
    given = list(item_features.fields) if item_features is not None else []
    if wanted != given:
        raise ConfigError(f"metadata_fields {wanted} but item features for {given}",
                          field="metadata_fields",
                          fix="pass ItemFeatures.from_metadata(metadata, fields, n_items) "
                              "built for exactly these fields")
