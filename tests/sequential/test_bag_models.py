"""NCF and DeepFM share a design (a bag of the history as the user); these tests run on both.

Batches and bag semantics, losses under bf16, training loss = serving score of each prefix,
metadata, and a short training run that beats popularity. DeepFM's FM algebra is checked in
``test_deepfm.py``.
"""

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import recstack.sequential.models.deepfm as deepfm_module
import recstack.sequential.models.ncf as ncf_module
from recstack.errors import ConfigError, DataError
from recstack.evaluation import count_items, evaluate_scores
from recstack.sequential.modules import ItemFeatures, pad_left

N_ITEMS = 30


@dataclass
class Spec:
    module: ModuleType
    model_cls: Any
    config_cls: Any
    tiny: dict[str, Any]  # width settings for fast unit tests
    small: dict[str, Any]  # width settings for the short training run
    city_table: Any  # model -> the embedding table of the city metadata field


SPECS = [
    Spec(ncf_module, ncf_module.NCFModel, ncf_module.NCFConfig,
         {"gmf_dim": 8, "mlp_dim": 8, "mlp_layers": "16,8"},
         {"gmf_dim": 32, "mlp_dim": 32, "mlp_layers": "64,32"},
         lambda m: m.gmf_meta.tables["city"]),
    Spec(deepfm_module, deepfm_module.DeepFMModel, deepfm_module.DeepFMConfig,
         {"embedding_dim": 8, "mlp_layers": "16,8"},
         {"embedding_dim": 32, "mlp_layers": "64,32", "n_negatives": 16},
         lambda m: m.meta_emb["city"].tables["city"]),
]


@pytest.fixture(params=SPECS, ids=["ncf", "deepfm"])
def spec(request) -> Spec:
    return request.param


def _model(spec: Spec, **overrides):
    torch.manual_seed(0)
    config = spec.config_cls(n_items=N_ITEMS, max_length=6, **spec.tiny)
    for key, value in overrides.items():
        setattr(config, key, value)
    return spec.model_cls(config)


def _sequences(rng: np.random.Generator, n: int = 12) -> list[np.ndarray]:
    return [rng.integers(1, N_ITEMS + 1, size=rng.integers(1, 15)) for _ in range(n)]


def test_training_batch_pairs_each_prefix_with_the_next_item(spec):
    model = _model(spec, targets_per_sequence=3, n_negatives=5)  # max_length 6
    sequences = [np.array([4]), np.arange(1, 13), np.array([25, 26])]
    batch = model.training_batch(sequences, np.random.default_rng(0))
    inputs, pos, neg = batch["item_ids"], batch["positives"], batch["negatives"]
    assert inputs.shape == pos.shape == (3, 6)
    # Row 1 reads its latest max_length + 1 items: inputs 6..11, targets 7..12 (3 kept).
    assert inputs[1].tolist() == list(range(6, 12))
    counted = pos > 0
    assert counted.sum(1).tolist() == [0, 3, 1]  # a single item has no next item
    assert (pos[counted] == inputs[counted] + 1).all()  # the item after each input
    assert neg.shape == (4, 5) and not (neg == pos[counted].unsqueeze(1)).any()
    again = model.training_batch(sequences, np.random.default_rng(0))
    assert all(torch.equal(batch[k], again[k]) for k in batch)  # randomness only from rng


def test_all_positions_when_targets_per_sequence_is_zero(spec):
    model = _model(spec, targets_per_sequence=0)
    batch = model.training_batch([np.arange(1, 11), np.array([3, 4])], np.random.default_rng(0))
    assert batch["positives"][0].tolist() == list(range(5, 11))  # the latest 6 targets
    assert batch["positives"][1].tolist() == [0, 0, 0, 0, 0, 4]


@pytest.mark.parametrize("loss", ["bce", "sampled_ce"])
def test_losses_are_finite_under_bf16_autocast(spec, loss):
    model = _model(spec, loss=loss, n_negatives=7)
    batch = model.training_batch(_sequences(np.random.default_rng(1)), np.random.default_rng(2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(**batch)
    assert out.loss is not None and torch.isfinite(out.loss)
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_training_loss_is_the_serving_score_of_each_prefix(spec):
    # sampled_ce's loss is the softmax over the logits of [positive, negatives]. Rebuilding it
    # from score() on each prefix alone proves that position t sees only items up to t, and
    # that the chunked all-item path and the pairwise training path agree.
    model = _model(spec, loss="sampled_ce", n_negatives=5, targets_per_sequence=2).eval()
    batch = model.training_batch(_sequences(np.random.default_rng(3)), np.random.default_rng(4))
    rows, cols = (batch["positives"] > 0).nonzero(as_tuple=True)  # row-major, as negatives
    prefixes = [batch["item_ids"][r, :c + 1].numpy() for r, c in zip(rows, cols, strict=True)]
    with torch.no_grad():
        loss = model(**batch).loss
        scores = model.score(torch.as_tensor(pad_left([p[p > 0] for p in prefixes], 6)))
    assert scores.shape == (len(prefixes), N_ITEMS + 1)
    assert torch.isneginf(scores[:, 0]).all()
    candidates = torch.cat([batch["positives"][rows, cols].unsqueeze(1), batch["negatives"]], 1)
    logits = scores.gather(1, candidates)
    expected = F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long))
    torch.testing.assert_close(loss, expected)


def test_score_ignores_order_padding_and_items_beyond_max_length(spec, monkeypatch):
    model = _model(spec).eval()
    history = np.array([5, 9, 2, 2, 17])
    rows = pad_left([history, history[::-1], np.array([21, 22, 23, *history]), history], 6)
    with torch.no_grad():
        scores = model.score(torch.as_tensor(rows))
        # Narrow item chunks must give the same numbers as one chunk.
        monkeypatch.setattr(spec.module, "_SCORE_CHUNK_ELEMENTS", 64)
        chunked = model.score(torch.as_tensor(rows))
    torch.testing.assert_close(scores[0], scores[1])  # a bag: order does not count
    # Only the latest max_length (6) items count: 21 and 22 fall off the front.
    tail = torch.as_tensor(pad_left([np.array([23, *history])], 6))
    with torch.no_grad():
        torch.testing.assert_close(scores[2], model.score(tail)[0])
    torch.testing.assert_close(scores, chunked)


def test_metadata_changes_item_vectors_and_missing_fields_fail_clearly(spec, travel):
    split, features = travel
    config = spec.config_cls(n_items=split.n_items, metadata_fields="city,category", **spec.tiny)
    torch.manual_seed(0)
    model = spec.model_cls(config, features).eval()
    history = torch.as_tensor(pad_left([split.train[0]], config.max_length))
    with torch.no_grad():
        before = model.score(history)
        spec.city_table(model).weight.add_(1.0)
        after = model.score(history)
    assert not torch.allclose(before[:, 1:], after[:, 1:])
    with pytest.raises(ConfigError, match="metadata_fields"):
        spec.model_cls(config)  # fields requested, no features given
    with pytest.raises(DataError, match="colour"):
        ItemFeatures.from_metadata(split.dataset.item_metadata, ["colour"], split.n_items)
    with pytest.raises(ConfigError, match="loss"):
        spec.model_cls(spec.config_cls(n_items=5, loss="hinge"))


def test_short_training_beats_popularity_on_travel(spec, travel):
    split, _ = travel
    config = spec.config_cls(n_items=split.n_items, max_length=50, **spec.small)
    torch.manual_seed(0)
    model = spec.model_cls(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    train = split.train
    for _ in range(6):
        for start in range(0, len(train), 64):
            loss = model(**model.training_batch(train[start:start + 64], rng)).loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()

    def score(histories: list[np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            return model.score(torch.as_tensor(pad_left(histories, config.max_length))).numpy()

    counts = count_items(train, split.n_items)

    def popularity(histories: list[np.ndarray]) -> np.ndarray:
        return np.tile(counts.astype(np.float32), (len(histories), 1))

    ndcg = {name: evaluate_scores(fn, split.valid, split.n_items, item_counts=counts, ks=(10,),
                                  sampled_negatives=None, progress=False).metrics["ndcg_at_10"]
            for name, fn in (("model", score), ("popularity", popularity))}
    assert ndcg["model"] > 1.5 * ndcg["popularity"], ndcg
