"""Meta-Prod2Vec: item embeddings from co-views, regularised by item metadata.

Vasile, Smirnova and Conneau, "Meta-Prod2Vec: Product Embeddings Using Side-Information for
Recommendation", RecSys 2016 (https://arxiv.org/abs/1607.07326).

For every (item ``i``, context item ``j``) pair inside the window, skip-gram with negative
sampling is applied to four terms; ``M(x)`` is one metadata token of item ``x`` (its city or
one of its genres), drawn uniformly when it has several::

    loss = w_ii * L(i -> j) + w_im * L(i -> M(j)) + w_mi * L(M(i) -> j) + w_mm * L(M(i) -> M(j))

Items and metadata tokens share one input and one output embedding space, so cities sit among
their items. Item targets draw negatives from the item unigram distribution ** 0.75, metadata
targets from the metadata token distribution ** 0.75. With all ``w_*m``/``w_m*`` weights 0 this
is Prod2Vec (the ``prod2vec`` preset), the same loss gensim optimises.

Items without metadata lose the terms that need it (documented fallback, no "unknown" token:
it would pull all such items together). Items never seen in training get the mean input vector
of their metadata tokens, so a new product still has neighbours in its city.

Neighbours are ranked by ``(in[q] + β in[M(q)]) · (out[c] + γ_c out[M(c)]) + η log(1 + n_c)``
with ``γ_c = γ n0 / (n0 + n_c)`` (``score_meta_query``, ``score_meta_candidate``,
``score_shrink``, ``score_popularity``): rarely viewed candidates lean on their metadata's output
vector, which the I→M term trains on every co-view. With ``n0 > 0`` every item's own vectors are
also shrunk toward the view-weighted mean vector of the items sharing its metadata, in
proportion ``n0 / (n0 + n_c)`` (empirical Bayes: an item seen twice is mostly "a hotel in
Lisbon", one seen a thousand times is itself). β, γ, n0 and η change no trained weight; they
are chosen on validation views after the fit (``recstack.embeddings.scoring``).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from recstack.configs import build_config
from recstack.embeddings._vectors import flatten, keep_probabilities, skipgram_pairs
from recstack.embeddings.models import register_embedding_model
from recstack.embeddings.sessions import DEFAULT_METADATA, metadata_tokens
from recstack.errors import ConfigError

# All three accept sparse gradients. Adagrad's step shrinks per row with that row's own
# history, so rarely seen items still move (SparseAdam's bias correction is global).
_TERMS = ("ii", "im", "mi", "mm")
_OPTIMIZERS: dict[str, Any] = {"sparse_adam": torch.optim.SparseAdam,
                               "adagrad": torch.optim.Adagrad, "sgd": torch.optim.SGD}


@dataclass
class MetaProd2VecConfig:
    dim: int = 64  # embedding size; 32-128 works for catalogues of thousands of items
    window: int = 3  # co-view reach within a session, as Prod2Vec's window
    negatives: int = 5  # negative samples per positive, word2vec's default for large data
    epochs: int = 10  # passes over the pairs
    batch_size: int = 1024  # pairs per sparse update
    learning_rate: float = 0.1  # Adagrad step, decayed linearly to 0 as word2vec does
    optimizer: str = "adagrad"  # adagrad (per-row steps), sparse_adam or sgd
    subsample: float = 0.0  # word2vec down-sampling of frequent items; off: catalogues are small
    ns_exponent: float = 0.75  # unigram ** 0.75 negative distribution (Mikolov et al.)
    weight_ii: float = 1.0  # item -> context item (the Prod2Vec term)
    # λ of the metadata terms: 0.3 was best of 0.1 / 0.3 / 1 on the travel validation views.
    weight_im: float = 0.3  # item -> context item's metadata
    weight_mi: float = 0.3  # item's metadata -> context item
    weight_mm: float = 0.3  # item's metadata -> context item's metadata
    metadata_fields: tuple[str, ...] = ("city",)  # travel: city; ML-1M-T2: ("genres",)
    score_terms: tuple[str, ...] = ("ii", "im", "mi", "mm")  # logits summed to rank neighbours
    # Scoring: (in[q] + β·in[M(q)]) · (out[c] + γ_c·out[M(c)]) + η·log(1 + n_c), γ_c =
    # γ·n0 / (n0 + n_c) when score_shrink = n0 > 0 (rarely viewed candidates lean on their
    # metadata, and item vectors shrink toward their metadata group's mean), else γ.
    # β = γ = 1, n0 = η = 0 is the plain sum of the four trained logits. See set_scoring().
    score_meta_query: float = 1.0  # β
    score_meta_candidate: float = 1.0  # γ
    score_shrink: float = 0.0  # n0, in training views; 0 = no frequency-aware shrink
    score_popularity: float = 0.0  # η; > 0 favours often viewed candidates, < 0 rare ones
    cold_from_metadata: bool = True  # unseen items get their metadata's mean vector
    # Small sparse lookups gain nothing from intra-op threads, and on a busy 2-core machine
    # torch's default (2) made a fit 13x slower (3.6 s vs 49 s); 0 = torch's default.
    threads: int = 1
    random_state: int = 0  # seeds pairs, negatives, metadata draws and initial weights

    def __post_init__(self) -> None:
        if isinstance(self.metadata_fields, str):  # "city,category" from the command line
            self.metadata_fields = tuple(f.strip() for f in self.metadata_fields.split(",") if f)
        self.metadata_fields = tuple(self.metadata_fields)
        if isinstance(self.score_terms, str):
            self.score_terms = tuple(t.strip() for t in self.score_terms.split(",") if t)
        self.score_terms = tuple(self.score_terms)
        if not self.score_terms or not set(self.score_terms) <= set(_TERMS):
            raise ConfigError(f"score_terms must be a non-empty subset of {_TERMS}, got "
                              f"{self.score_terms!r}", field="score_terms", fix="e.g. ii,im")
        for name in ("dim", "window", "negatives", "epochs", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{name} must be an integer >= 1", field=name,
                                  fix=f"for example {name}={getattr(MetaProd2VecConfig, name)}")
        for name in ("weight_ii", "weight_im", "weight_mi", "weight_mm", "subsample",
                     "ns_exponent", "score_meta_query", "score_meta_candidate", "score_shrink"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}",
                                  field=name, fix="weights are λ >= 0; 0 switches a term off")
        if not (isinstance(self.score_popularity, int | float)
                and math.isfinite(self.score_popularity)):
            raise ConfigError(f"score_popularity must be a finite number, got "
                              f"{self.score_popularity!r}", field="score_popularity",
                              fix="for example 0.25 (0 = no popularity term)")
        if self.optimizer not in _OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}", field="optimizer",
                              fix=f"use one of: {', '.join(_OPTIMIZERS)}")
        if not self.learning_rate > 0:
            raise ConfigError("learning_rate must be positive", field="learning_rate",
                              fix="for example 0.01")

    @property
    def uses_metadata(self) -> bool:
        return any(w > 0 for w in (self.weight_im, self.weight_mi, self.weight_mm))


PRESETS: dict[str, dict[str, Any]] = {
    "meta-prod2vec": {},
    "prod2vec": {"weight_im": 0.0, "weight_mi": 0.0, "weight_mm": 0.0},
}


@dataclass
class ScoringBlocks:
    """Per-item parts of the score, rows ``0..n_items`` (row 0 = padding)."""

    items_in: np.ndarray  # (I + 1, D) input vectors (group-shrunk when n0 > 0)
    meta_in: np.ndarray  # (I + 1, D) mean input vector of the item's metadata tokens
    items_out: np.ndarray  # (I + 1, D) output vectors (group-shrunk when n0 > 0)
    meta_out: np.ndarray  # (I + 1, D) mean output vector of the item's metadata tokens
    gamma: np.ndarray  # (I + 1,) n0 / (n0 + n_c), or 1 without shrink; γ multiplies it
    log_counts: np.ndarray  # (I + 1,) log(1 + training views); η multiplies it
    known_by_metadata: np.ndarray  # (I + 1,) never viewed, no viewed group: metadata only


def shrink_to_groups(vectors: list[np.ndarray], meta_table: np.ndarray, counts: np.ndarray,
                     n0: float) -> tuple[list[np.ndarray], np.ndarray]:
    """Shrink each item's vectors toward the mean of the items with the same metadata.

    An item with ``n`` training views keeps ``n / (n + n0)`` of its own vector and takes the
    rest from its group's mean, weighted by views so that well-trained vectors dominate it
    (empirical Bayes with ``n0`` pseudo-views of prior). A group is the exact set of metadata
    tokens (city and category: "hotels in Lisbon"). Items without metadata, or whose group
    has no views, keep their own vectors; the second return value marks the others.
    """
    has_metadata = (meta_table >= 0).any(axis=1)
    _, group = np.unique(meta_table, axis=0, return_inverse=True)
    group = group.ravel()
    views = np.bincount(group, weights=counts)  # (G,)
    anchored = has_metadata & (views[group] > 0)
    own = np.where(anchored, counts / (counts + n0), 1.0)[:, None]  # (I + 1, 1)
    shrunk = []
    for vec in vectors:
        sums = np.zeros((len(views), vec.shape[1]))
        np.add.at(sums, group, vec * counts[:, None])
        means = sums / np.maximum(views, 1e-12)[:, None]  # (G, D)
        shrunk.append(own * vec + (1.0 - own) * means[group])
    return shrunk, anchored


def sgns_loss(source: torch.Tensor, positive: torch.Tensor,
              negatives: torch.Tensor) -> torch.Tensor:
    """Skip-gram negative-sampling loss per row: ``(B, D), (B, D), (B, K, D) -> (B,)``."""
    pos = F.logsigmoid((source * positive).sum(-1))  # (B,)
    # multiply-and-sum, not bmm: (K, D) @ (D, 1) products as bmm took a third of a CPU step
    neg = F.logsigmoid(-(negatives * source.unsqueeze(1)).sum(-1))  # (B, K)
    return -(pos + neg.sum(-1))


class MetaProd2VecModel(nn.Module):
    """Input and output tables over ``[padding, items 1..n, metadata tokens]``."""

    def __init__(self, config: MetaProd2VecConfig, n_items: int, n_meta: int):
        super().__init__()
        self.config, self.n_items, self.n_meta = config, n_items, n_meta
        size = n_items + 1 + n_meta
        # sparse=True: a batch touches a few thousand rows, updates must not scale with V.
        self.input = nn.Embedding(size, config.dim, sparse=True)
        self.output = nn.Embedding(size, config.dim, sparse=True)
        nn.init.uniform_(self.input.weight, -0.5 / config.dim, 0.5 / config.dim)
        nn.init.zeros_(self.output.weight)  # word2vec's initialisation

    def forward(self, centers: torch.Tensor, contexts: torch.Tensor, center_meta: torch.Tensor,
                context_meta: torch.Tensor, neg_items: torch.Tensor,
                neg_meta: torch.Tensor) -> torch.Tensor:
        """Mean weighted loss of a batch; ``*_meta`` are table rows, ``-1`` = no metadata.

        Shapes: centers, contexts, center_meta, context_meta ``(B,)``; negatives ``(B, K)``.
        """
        cfg = self.config
        batch, k = neg_items.shape
        if not cfg.uses_metadata or self.n_meta == 0:
            out = self.output(torch.cat([contexts, neg_items.reshape(-1)]))  # (B + BK, D)
            positive, negative = out.split([batch, batch * k])
            loss = sgns_loss(self.input(centers), positive, negative.view(batch, k, -1))
            return cfg.weight_ii * loss.mean()
        has_c, has_x = (center_meta >= 0).float(), (context_meta >= 0).float()  # (B,)
        m_c, m_x = center_meta.clamp(min=0), context_meta.clamp(min=0)  # row 0 where masked
        # One lookup per table: each lookup adds a sparse gradient to merge in backward.
        src = self.input(torch.cat([centers, m_c]))  # (2B, D)
        out = self.output(torch.cat([contexts, m_x, neg_items.reshape(-1),
                                     neg_meta.reshape(-1)]))  # (2B + 2BK, D)
        # split, not slicing: each slice's backward would zero-fill a gradient of full size
        in_i, in_mc = src.split(batch)  # (B, D) each
        out_j, out_mx, neg_i, neg_m = out.split([batch, batch, batch * k, batch * k])
        negs = (neg_i.view(batch, k, -1), neg_m.view(batch, k, -1))  # (B, K, D) each
        loss = cfg.weight_ii * sgns_loss(in_i, out_j, negs[0])
        loss = loss + cfg.weight_im * has_x * sgns_loss(in_i, out_mx, negs[1])
        loss = loss + cfg.weight_mi * has_c * sgns_loss(in_mc, out_j, negs[0])
        loss = loss + cfg.weight_mm * has_c * has_x * sgns_loss(in_mc, out_mx, negs[1])
        return loss.mean()


class MetaProd2Vec:
    """Estimator: ``fit(sequences, n_items, item_metadata)``, then ``similarity(items)``."""

    def __init__(self, **params: Any):
        self.config = MetaProd2VecConfig(**params)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> MetaProd2Vec:
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}", field="model",
                              fix=f"use one of: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def get_params(self) -> dict[str, Any]:
        return asdict(self.config)

    def fit(self, sequences: list[np.ndarray], n_items: int,
            item_metadata: pd.DataFrame | None = None) -> Self:
        """Learn item vectors; ``item_metadata`` is indexed by internal id 1..n_items."""
        cfg = self.config
        flat, seq_id = flatten(sequences, n_items)
        fields = cfg.metadata_fields if cfg.uses_metadata else ()
        self.metadata_vocabulary_, meta_table = metadata_tokens(item_metadata, fields, n_items)
        n_meta = len(self.metadata_vocabulary_)
        rng = np.random.default_rng(cfg.random_state)
        torch.manual_seed(cfg.random_state)
        threads = torch.get_num_threads()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        with warnings.catch_warnings():
            try:
                # Adagrad rebuilds sparse gradients and torch warns that it skips invariant checks.
                warnings.filterwarnings("ignore", message="Sparse invariant checks")
                self.model_ = MetaProd2VecModel(cfg, n_items, n_meta)
                started = time.perf_counter()
                self.loss_history_, n_pairs = _train(self.model_, flat, seq_id, meta_table, rng)
                self.fit_seconds_ = time.perf_counter() - started
            finally:
                torch.set_num_threads(threads)
        self.pairs_per_second_ = n_pairs / max(self.fit_seconds_, 1e-9)
        self.tokens_per_second_ = len(flat) * cfg.epochs / max(self.fit_seconds_, 1e-9)
        self.item_counts_ = np.bincount(flat, minlength=n_items + 1)
        self.metadata_table_ = meta_table
        self._set_vectors()
        return self

    def set_scoring(self, *, score_meta_query: float | None = None,
                    score_meta_candidate: float | None = None,
                    score_shrink: float | None = None,
                    score_popularity: float | None = None) -> Self:
        """Recompose the query and candidate vectors with new β, γ, n0, η (no refit).

        Lets them be chosen on validation views after one fit; serving stays a plain
        inner-product index because the composed vectors are precomputed here.
        """
        if not hasattr(self, "model_"):
            raise ConfigError("the model is not fitted", field="model", fix="call fit() first")
        changes = {name: value for name, value in (
            ("score_meta_query", score_meta_query),
            ("score_meta_candidate", score_meta_candidate),
            ("score_shrink", score_shrink),
            ("score_popularity", score_popularity)) if value is not None}
        self.config = MetaProd2VecConfig(**{**asdict(self.config), **changes})  # validates
        self._set_vectors()
        return self

    def scoring_blocks(self, shrink: float | None = None) -> ScoringBlocks:
        """The vectors the score is composed of, for one prior strength n0 (default: config's).

        ``scoring.select_scoring`` precomputes the four logit blocks from these once per n0
        and then tries β, γ and η on them without recomposing the (I + 1, 2D + 1) vectors.
        """
        if not hasattr(self, "model_"):
            raise ConfigError("the model is not fitted", field="model", fix="call fit() first")
        n0 = self.config.score_shrink if shrink is None else shrink
        n_items, meta_table = self.model_.n_items, self.metadata_table_
        w_in = self.model_.input.weight.detach().numpy()
        w_out = self.model_.output.weight.detach().numpy()
        tokens = np.where(meta_table >= 0, meta_table + n_items + 1, 0)  # (I + 1, M)
        n_tokens = np.maximum((meta_table >= 0).sum(axis=1, keepdims=True), 1)  # (I + 1, 1)
        has = (meta_table >= 0)[..., None]  # (I + 1, M, 1)
        meta_in = (w_in[tokens] * has).sum(axis=1) / n_tokens  # (I + 1, D)
        meta_out = (w_out[tokens] * has).sum(axis=1) / n_tokens  # (I + 1, D)
        counts = self.item_counts_.astype(np.float64)
        items_in, items_out = w_in[:n_items + 1].copy(), w_out[:n_items + 1].copy()
        anchored = np.zeros(n_items + 1, dtype=bool)
        if n0 > 0:
            (items_in, items_out), anchored = shrink_to_groups(
                [items_in, items_out], meta_table, counts, n0)
        # A never-viewed item without a viewed metadata group is known only by its metadata.
        known_by_metadata = (counts == 0) & ~anchored & self.config.cold_from_metadata
        items_in[known_by_metadata] = 0.0
        gamma = np.ones(n_items + 1) if n0 <= 0 else n0 / (n0 + counts)  # (I + 1,)
        return ScoringBlocks(items_in, meta_in, items_out, meta_out, gamma,
                             np.log1p(counts), known_by_metadata)

    def _set_vectors(self) -> None:
        """Query and candidate vectors whose inner product is the co-view score.

        With β = score_meta_query, γ_c = score_meta_candidate (times ``n0 / (n0 + n_c)`` when
        ``score_shrink = n0 > 0``, ``n_c`` = the candidate's training views), η =
        score_popularity::

            score(q, c) = in[q]·out[c] + γ_c in[q]·out[M(c)]
                          + β in[M(q)]·out[c] + β γ_c in[M(q)]·out[M(c)] + η log(1 + n_c)
                        = (in[q] + β in[M(q)]) · (out[c] + γ_c out[M(c)]) + η log(1 + n_c)

        (terms with weight 0 or not in ``score_terms`` left out), written as
        ``[in[q], β in[M(q)], 1] · [out[c] + γ_c out[M(c)], out[c] + γ_c out[M(c)], η log(1 +
        n_c)]`` so that an inner-product index can serve it. ``M(x)`` is the mean of x's
        metadata vectors, zero without metadata; with n0 > 0, ``in`` and ``out`` are the
        group-shrunk item vectors of ``scoring_blocks``. β = γ = 1 is the plain sum of the four
        trained logits. A cold candidate's own ``out[c]`` is barely trained, but
        ``in[q]·out[M(c)]`` is trained by the I→M term on every co-view of ``q`` with an item of
        ``c``'s city, so γ carries the metadata into the ranking of rarely viewed candidates.
        """
        cfg = self.config
        blocks = self.scoring_blocks()
        query_meta = cfg.score_meta_query * blocks.meta_in  # (I + 1, D)
        # whatever β, or β = 0 would leave nothing of an item known only by its metadata
        query_meta[blocks.known_by_metadata] = blocks.meta_in[blocks.known_by_metadata]
        gamma = cfg.score_meta_candidate * blocks.gamma  # (I + 1,)
        candidate_meta = gamma[:, None] * blocks.meta_out  # (I + 1, D)
        on = {f"weight_{t}": float(getattr(cfg, f"weight_{t}") > 0 and t in cfg.score_terms)
              for t in _TERMS}
        ones = np.ones((len(gamma), 1))
        self.query_vectors_ = np.hstack([blocks.items_in, query_meta, ones]).astype(
            np.float32)  # (I + 1, 2D + 1)
        self.candidate_vectors_ = np.hstack([
            on["weight_ii"] * blocks.items_out + on["weight_im"] * candidate_meta,
            on["weight_mi"] * blocks.items_out + on["weight_mm"] * candidate_meta,
            cfg.score_popularity * blocks.log_counts[:, None]]).astype(np.float32)
        self.query_vectors_[0] = self.candidate_vectors_[0] = 0.0
        # Input vectors are what Prod2Vec papers plot: items (or their metadata when unseen).
        w_in = self.model_.input.weight.detach().numpy()
        n_items = self.model_.n_items
        unseen = self.item_counts_ == 0
        self.item_vectors_ = np.where(unseen[:, None] & cfg.cold_from_metadata, blocks.meta_in,
                                      w_in[:n_items + 1]).astype(np.float32)
        self.item_vectors_[0] = 0.0
        self.metadata_vectors_ = w_in[n_items + 1:].copy()

    def similarity(self, items: np.ndarray) -> np.ndarray:
        """Predicted co-view score of every item for each query item: ``(B, n_items + 1)``."""
        if not hasattr(self, "query_vectors_"):
            raise ConfigError("the model is not fitted", field="model", fix="call fit() first")
        return self.query_vectors_[np.asarray(items, dtype=np.int64)] @ self.candidate_vectors_.T


def _negative_sampler(counts: np.ndarray, exponent: float) -> torch.Tensor:
    weights = np.power(counts.astype(np.float64), exponent)
    total = weights.sum()
    return torch.as_tensor(weights / total if total > 0 else np.ones(len(weights)) / len(weights))


def _draw_metadata(table: torch.Tensor, counts: torch.Tensor, items: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
    """One metadata token per item (uniform among its tokens); ``-1`` when it has none."""
    draw = (torch.rand(len(items), generator=generator) * counts[items]).long()  # (B,)
    return table[items, draw.clamp(max=table.shape[1] - 1)]


def _train(model: MetaProd2VecModel, flat: np.ndarray, seq_id: np.ndarray,
           meta_table: np.ndarray, rng: np.random.Generator) -> tuple[list[float], int]:
    """SparseAdam over shuffled skip-gram pairs; returns mean loss per epoch and pairs seen."""
    cfg, n_items = model.config, model.n_items
    counts = np.bincount(flat, minlength=n_items + 1)
    keep = keep_probabilities(counts, cfg.subsample)
    item_dist = _negative_sampler(counts, cfg.ns_exponent)
    meta_rows = torch.as_tensor(np.where(meta_table >= 0, meta_table + n_items + 1, -1))
    meta_counts = torch.as_tensor((meta_table >= 0).sum(axis=1))
    token_counts = np.bincount(meta_table[1:][meta_table[1:] >= 0].ravel(),
                               minlength=model.n_meta)
    meta_dist = _negative_sampler(np.maximum(token_counts, 1), cfg.ns_exponent)
    generator = torch.Generator().manual_seed(cfg.random_state)
    optimizer = _OPTIMIZERS[cfg.optimizer](list(model.parameters()), lr=cfg.learning_rate)
    epoch_pairs = []
    for _ in range(cfg.epochs):
        kept = rng.random(len(flat)) < keep[flat]
        epoch_pairs.append(skipgram_pairs(flat[kept], seq_id[kept], cfg.window, rng))
    total_steps = sum(math.ceil(len(c) / cfg.batch_size) for c, _ in epoch_pairs)
    step, history = 0, []
    for centers_np, contexts_np in epoch_pairs:
        order = rng.permutation(len(centers_np))
        centers_all = torch.as_tensor(centers_np[order])
        contexts_all = torch.as_tensor(contexts_np[order])
        losses = []
        for start in range(0, len(order), cfg.batch_size):
            centers = centers_all[start:start + cfg.batch_size]  # (B,)
            contexts = contexts_all[start:start + cfg.batch_size]  # (B,)
            shape = (len(centers), cfg.negatives)
            neg_items = torch.multinomial(item_dist, shape[0] * shape[1], replacement=True,
                                          generator=generator).view(shape)  # (B, K)
            neg_meta = torch.zeros(shape, dtype=torch.long)
            if model.n_meta:
                neg_meta = n_items + 1 + torch.multinomial(
                    meta_dist, shape[0] * shape[1], replacement=True,
                    generator=generator).view(shape)  # (B, K)
            for group in optimizer.param_groups:  # linear decay, as word2vec's alpha
                group["lr"] = cfg.learning_rate * max(1.0 - step / total_steps, 1e-4)
            loss = model(centers, contexts,
                         _draw_metadata(meta_rows, meta_counts, centers, generator),
                         _draw_metadata(meta_rows, meta_counts, contexts, generator),
                         neg_items, neg_meta)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            step += 1
        history.append(float(np.mean(losses)) if losses else float("nan"))
    return history, sum(len(c) for c, _ in epoch_pairs)


def _build(preset: str, overrides: dict[str, Any], dataset: str | None) -> MetaProd2Vec:
    overrides = dict(overrides)
    if dataset in DEFAULT_METADATA and "metadata_fields" not in overrides:
        overrides["metadata_fields"] = DEFAULT_METADATA[dataset]
    fields = overrides.pop("metadata_fields", None)
    config = build_config(MetaProd2VecConfig, {**PRESETS[preset], **overrides})
    if fields is not None:  # a tuple field: build_config cannot coerce "city,category"
        config = MetaProd2VecConfig(**{**asdict(config), "metadata_fields": fields})
    return MetaProd2Vec(**asdict(config))


@register_embedding_model("meta-prod2vec")
def _build_meta_prod2vec(overrides: dict[str, Any], dataset: str | None) -> MetaProd2Vec:
    return _build("meta-prod2vec", overrides, dataset)


@register_embedding_model("prod2vec-torch")
def _build_prod2vec_torch(overrides: dict[str, Any], dataset: str | None) -> MetaProd2Vec:
    """Prod2Vec (no metadata) on the same PyTorch trainer as Meta-Prod2Vec."""
    return _build("prod2vec", overrides, dataset)
