"""BERT4Rec: Cloze masking, bidirectional attention, [MASK] scoring, metadata fusion, and a short
run that beats popularity."""

import numpy as np
import pytest
import torch

from recstack.data.dataset import SequenceDataset
from recstack.data.splits import leave_one_out
from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.errors import ConfigError, DataError
from recstack.evaluation import count_items, evaluate_scores
from recstack.sequential.models.bert4rec import (
    FUSIONS,
    PRESETS,
    BERT4RecConfig,
    BERT4RecModel,
)
from recstack.sequential.modules import ItemFeatures, pad_left

N_ITEMS = 30
SEQS = [np.arange(1, 12), np.array([3, 5]), np.array([7]), np.arange(5, 29)]
CODES = np.arange(N_ITEMS + 1).reshape(-1, 1) % 4  # item i has "colour" i % 4 (0 = none)
FEATURES = ItemFeatures(["colour"], {"colour": CODES}, {"colour": 4})


def tiny(features: ItemFeatures | None = None, **overrides) -> BERT4RecModel:
    torch.manual_seed(0)
    config = BERT4RecConfig(n_items=N_ITEMS, max_length=8, hidden=16, ffn=32, **overrides)
    return BERT4RecModel(config, features)


@pytest.fixture(scope="module")
def travel():
    dataset = SequenceDataset.from_interactions(
        generate_travel(TravelConfig(n_users=400, n_products=210)).to_interactions())
    return dataset, leave_one_out(dataset)


def test_masking_hides_items_and_every_row_has_a_target():
    model = tiny(mask_prob=0.5, last_only_prob=0.0)
    batch = model.training_batch(SEQS * 50, np.random.default_rng(0))
    ids, targets = batch["item_ids"], batch["targets"]
    assert ids.shape == targets.shape == (200, 8)
    masked = targets > 0
    assert (ids[masked] == N_ITEMS + 1).all()  # every target is hidden behind [MASK] ...
    assert (ids[~masked] != N_ITEMS + 1).all()  # ... and [MASK] only where there is a target
    assert masked.any(dim=1).all()
    assert (ids[:, :-1] != 0).sum() > 0 and (targets[ids == 0] == 0).all()  # padding never
    real = (ids > 0) & ~(masked & (masked.sum(1, keepdim=True) == 1))  # drop forced last masks
    assert 0.4 < masked[real].float().mean() < 0.6
    restored = torch.where(masked, targets, ids)  # un-masking gives the windows back
    assert restored[1].tolist() == [0] * 6 + [3, 5]
    assert restored[0].tolist() == list(range(4, 12))  # an 11-item history: a window of 8


def test_last_only_rows_mask_just_the_last_item():
    model = tiny(last_only_prob=1.0, train_window="last")
    batch = model.training_batch(SEQS, np.random.default_rng(1))
    targets = batch["targets"]
    assert (targets[:, :-1] == 0).all()
    assert targets[:, -1].tolist() == [11, 5, 7, 28]


def test_random_window_is_a_contiguous_slice_and_last_window_is_the_end():
    seq = [np.arange(1, 29)]
    model = tiny(train_window="random", mask_prob=1.0, last_only_prob=0.0)
    starts = {int(model.training_batch(seq, np.random.default_rng(s))["targets"][0, 0])
              for s in range(30)}
    assert len(starts) > 5 and min(starts) >= 1 and max(starts) <= 21
    model = tiny(train_window="last", mask_prob=1.0, last_only_prob=0.0)
    assert model.training_batch(seq, np.random.default_rng(0))["targets"][0].tolist() == list(
        range(21, 29))


@pytest.mark.parametrize("fusion", FUSIONS)
def test_losses_are_finite_in_float32_and_bfloat16(fusion):
    model = tiny(FEATURES, metadata_fields="colour", metadata_fusion=fusion)
    batch = model.training_batch(SEQS, np.random.default_rng(0))
    for amp in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(**batch)
        assert out.loss is not None and torch.isfinite(out.loss)
        out.loss.backward()
        assert torch.isfinite(model.items.embedding.weight.grad).all()
    assert model(batch["item_ids"]).logits.shape == (4, 8, N_ITEMS + 1)


def test_attention_is_bidirectional_and_ignores_padding():
    model = tiny().eval()
    ids = torch.as_tensor(pad_left([np.array([4, 5, 6, 7])], 8))
    later = ids.clone()
    later[0, -1] = 9  # change the last item
    with torch.no_grad():
        a, b = model(ids).logits, model(later).logits
        assert not torch.allclose(a[0, -2], b[0, -2])  # an earlier position sees the later item
        # the same history padded to a shorter width (same right-aligned positions) scores alike
        assert torch.allclose(model.score(ids), model.score(ids[:, 3:]), atol=1e-5)


def test_score_reads_an_appended_mask_and_drops_the_oldest_item_when_full():
    model = tiny().eval()
    histories = [np.arange(1, 12), np.array([3, 5])]
    ids = torch.as_tensor(pad_left(histories, 8))
    with torch.no_grad():
        scores = model.score(ids)
        shifted = torch.cat([ids[:, 1:], torch.full((2, 1), N_ITEMS + 1)], dim=1)
        expected = model(shifted).logits[:, -1]
        one_by_one = torch.cat([model.score(ids[r:r + 1]) for r in range(2)])
    assert scores.shape == (2, N_ITEMS + 1) and torch.isinf(scores[:, 0]).all()
    assert torch.allclose(scores[:, 1:], expected[:, 1:], atol=1e-5)
    assert torch.allclose(scores, one_by_one, atol=1e-5)  # batched = row by row


def test_metadata_enters_the_input_and_the_tied_output_layer():
    model = tiny(FEATURES, metadata_fields="colour").eval()
    ids = torch.as_tensor(pad_left([np.array([1, 2, 3])], 8))
    with torch.no_grad():
        before = model.score(ids)
        # colour 2 (items 2, 6, 10, …); random, since LayerNorm cancels a constant shift
        model.items.metadata.tables["colour"].weight[2] += torch.randn(16)
        after = model.score(ids)
    diff = (after - before).abs()[0, 1:]  # (I,)
    colour_2 = torch.as_tensor(CODES[1:, 0] == 2)
    assert diff[colour_2].min() > 10 * diff[~colour_2].max()  # output layer: their own colour
    assert (diff[~colour_2] > 0).all()  # input: item 2 is in the history, so the context moves
    table = model.items()
    assert not torch.allclose(table[2], model.items.embedding.weight[2])  # fused, not the id
    bare = tiny()
    assert bare.items().shape == table.shape == (N_ITEMS + 2, 16)


def test_metadata_errors_name_the_field():
    with pytest.raises(DataError, match="price"):
        tiny(FEATURES, metadata_fields="colour,price")
    with pytest.raises(ConfigError, match="metadata_fields"):
        tiny(None, metadata_fields="colour")
    with pytest.raises(ConfigError, match="metadata_fusion"):
        BERT4RecConfig(metadata_fusion="product")
    with pytest.raises(ConfigError, match="n_heads"):
        BERT4RecConfig(hidden=10, n_heads=3)
    with pytest.raises(ConfigError, match="n_items"):
        BERT4RecModel(BERT4RecConfig())
    assert BERT4RecConfig(**PRESETS["meta-bert4rec"]).fields == ["genres", "year"]


@pytest.mark.parametrize("fields", ["", "city,category"])
def test_short_training_beats_popularity(travel, fields):
    dataset, split = travel
    torch.manual_seed(0)
    config = BERT4RecConfig(n_items=split.n_items, max_length=20, hidden=32, ffn=64,
                            dropout=0.1, mask_prob=0.4, last_only_prob=0.3,
                            metadata_fields=fields)
    features = (ItemFeatures.from_metadata(dataset.item_metadata, config.fields, split.n_items)
                if fields else None)
    model = BERT4RecModel(config, features)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    train = [s for s in split.train if len(s)]
    for _ in range(10):
        order = rng.permutation(len(train))
        for start in range(0, len(order), 64):
            out = model(**model.training_batch([train[i] for i in order[start:start + 64]], rng))
            optimiser.zero_grad()
            out.loss.backward()
            optimiser.step()
    model.eval()

    def neural(histories):
        with torch.no_grad():
            return model.score(torch.as_tensor(pad_left(histories, 20))).numpy()

    counts = count_items(split.train, split.n_items)
    kwargs = {"item_counts": counts, "ks": (10,), "sampled_negatives": None, "progress": False}
    ndcg = evaluate_scores(neural, split.valid, split.n_items, **kwargs).metrics["ndcg_at_10"]
    popular = evaluate_scores(lambda h: np.tile(counts.astype(np.float32), (len(h), 1)),
                              split.valid, split.n_items, **kwargs).metrics["ndcg_at_10"]
    assert ndcg > 1.5 * popular, (ndcg, popular)
