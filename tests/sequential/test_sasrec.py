"""SASRec: losses, causality, padding, negatives, metadata; a short run beats popularity."""

import numpy as np
import pytest
import torch

from recstack.data.dataset import SequenceDataset
from recstack.data.splits import leave_one_out
from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.errors import ConfigError, DataError
from recstack.evaluation import count_items, evaluate_scores
from recstack.sequential.models.sasrec import PRESETS, SASRecConfig, SASRecModel
from recstack.sequential.modules import ItemFeatures, pad_left

N_ITEMS = 30
SEQS = [np.arange(1, 12), np.array([3, 5]), np.array([7]), np.arange(5, 29)]


def tiny(**overrides) -> SASRecModel:
    torch.manual_seed(0)
    config = SASRecConfig(n_items=N_ITEMS, max_length=8, hidden=16, **overrides)
    return SASRecModel(config)


@pytest.fixture(scope="module")
def travel():
    dataset = SequenceDataset.from_interactions(
        generate_travel(TravelConfig(n_users=400, n_products=210)).to_interactions())
    return dataset, leave_one_out(dataset)


@pytest.mark.parametrize("loss", ["ce", "bce", "gbce", "sampled_ce"])
def test_every_loss_is_finite_and_trains(loss):
    model = tiny(loss=loss, n_negatives=10)
    batch = model.training_batch(SEQS, np.random.default_rng(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(**batch)
    assert out.loss is not None and torch.isfinite(out.loss)
    out.loss.backward()
    assert model.item_emb.weight.grad is not None
    assert torch.isfinite(model.item_emb.weight.grad).all()


def test_training_batch_shifts_targets_and_keeps_the_last_window():
    model = tiny(loss="bce")
    batch = model.training_batch(SEQS, np.random.default_rng(0))
    ids, targets = batch["item_ids"], batch["targets"]
    assert ids.shape == targets.shape == (4, 8)  # padded to max_length, the longest here
    assert targets[0].tolist() == list(range(4, 12))  # last max_length + 1 window of 1..11
    assert ids[0].tolist() == list(range(3, 11))
    assert ids[1].tolist() == [0] * 7 + [3] and targets[1].tolist() == [0] * 7 + [5]
    assert targets[2].sum() == 0  # a one-item sequence has nothing to predict
    assert batch["negatives"].shape == (4, 8, 1)  # "bce": one negative per position
    negatives = batch["negatives"]
    assert negatives.min() >= 1 and negatives.max() <= N_ITEMS


def test_random_window_stays_inside_the_sequence():
    model = tiny(train_window="random")
    seq = np.arange(1, 29)
    starts = set()
    for seed in range(20):
        ids = model.training_batch([seq], np.random.default_rng(seed))["item_ids"][0]
        assert (np.diff(ids.numpy()) == 1).all()  # a contiguous window
        starts.add(int(ids[0]))
    assert len(starts) > 3


def test_sampled_negatives_are_shared_per_sequence_and_collisions_masked():
    model = tiny(loss="sampled_ce", n_negatives=N_ITEMS * 3)
    batch = model.training_batch(SEQS, np.random.default_rng(0))
    assert batch["negatives"].shape == (4, N_ITEMS * 3)
    # with 90 draws over 30 items every target collides; masking must keep the loss finite
    # and equal to the loss with the colliding negatives removed by hand
    model.eval()
    loss = model(**batch).loss
    assert loss is not None and torch.isfinite(loss)
    one = {k: v[:1] for k, v in batch.items()}
    hidden = model.encode(one["item_ids"])[0]  # (T, D)
    emb = model.item_emb.weight
    manual = []
    for t, target in enumerate(one["targets"][0].tolist()):
        if target == 0:
            continue
        negs = [n for n in one["negatives"][0].tolist() if n != target]
        logits = hidden[t] @ emb[[target, *negs]].T
        manual.append(-torch.log_softmax(logits, -1)[0])
    assert torch.allclose(model(**one).loss, torch.stack(manual).mean(), atol=1e-5)


def test_changing_a_later_item_leaves_earlier_outputs_unchanged():
    model = tiny().eval()
    ids = torch.tensor([[0, 0, 4, 9, 2, 7, 1, 5]])
    changed = ids.clone()
    changed[0, 5] = 13
    before, after = model.encode(ids), model.encode(changed)
    assert torch.allclose(before[0, :5], after[0, :5], atol=1e-6)
    assert not torch.allclose(before[0, 5:], after[0, 5:])


def test_scores_do_not_depend_on_the_amount_of_padding():
    model = tiny().eval()
    history = [np.array([4, 9, 2])]
    short = model.score(torch.as_tensor(pad_left(history, 4)))
    full = model.score(torch.as_tensor(pad_left(history, 8)))
    assert short.shape == (1, N_ITEMS + 1)
    assert torch.allclose(short, full, atol=1e-5)
    assert short[0, 0] == -torch.inf  # padding is never recommended


def test_separate_output_embeddings_score_with_their_own_table():
    model = tiny(tie_output=False).eval()
    assert model.out_emb is not None
    ids = torch.as_tensor(pad_left([np.array([1, 2])], 8))
    before = model.score(ids).clone()
    with torch.no_grad():
        model.out_emb.weight[3] += torch.randn(16)
    after = model.score(ids)
    assert not torch.allclose(before[:, 3], after[:, 3])
    assert torch.allclose(before[:, 4:], after[:, 4:])


def test_gsasrec_preset_builds_and_uses_gbce():
    config = SASRecConfig(n_items=N_ITEMS, **PRESETS["gsasrec"])  # type: ignore[arg-type]
    assert config.loss == "gbce" and config.n_negatives == 256 and not config.tie_output
    assert 0 < SASRecModel(config).beta <= 1
    config.n_items = 3416  # ML-1M: α = 256 / 3415, β = α (t (1 − 1/α) + 1/α)
    model = SASRecModel(config)
    assert model.beta == pytest.approx(0.3062, abs=1e-3)
    # logits start at gBCE's constant optimum log(β / K), else the encoder collapses
    assert model.logit_offset == pytest.approx(np.log(model.beta / 256))
    assert tiny(loss="ce").logit_offset == tiny(loss="bce").logit_offset == 0.0


def test_metadata_changes_the_item_representation(travel):
    dataset, _ = travel
    n = dataset.n_items
    features = ItemFeatures.from_metadata(dataset.item_metadata, ["city", "price_tier"], n)
    torch.manual_seed(0)
    model = SASRecModel(SASRecConfig(n_items=n, hidden=16, metadata_fields="city,price_tier"),
                        features)
    ids = torch.tensor([[1, 2, 3]])
    plain = model.item_emb(ids)
    assert not torch.allclose(model._item_repr(ids), plain)
    # tied output: the scored catalogue carries the same metadata
    assert torch.allclose(model._output_repr()[1:4], model._item_repr(ids)[0])
    # two items of the same city and price tier share their metadata part
    codes = np.stack([features.codes["city"][:, 0], features.codes["price_tier"][:, 0]], 1)
    a, b = next((i, j) for i in range(1, n + 1) for j in range(i + 1, n + 1)
                if (codes[i] == codes[j]).all())
    pair = torch.tensor([[a, b]])
    meta = model._item_repr(pair) - model.item_emb(pair)
    assert torch.allclose(meta[0, 0], meta[0, 1])


def test_metadata_field_errors_are_clear(travel):
    dataset, _ = travel
    with pytest.raises(DataError, match="no field 'colour'"):
        ItemFeatures.from_metadata(dataset.item_metadata, ["colour"], dataset.n_items)
    with pytest.raises(ConfigError, match="metadata_fields"):
        SASRecModel(SASRecConfig(n_items=dataset.n_items, metadata_fields="city"))


def test_bad_config_names_the_field():
    with pytest.raises(ConfigError, match="sampled_ce"):
        SASRecModel(SASRecConfig(n_items=5, loss="softmax"))
    with pytest.raises(ConfigError, match="n_items"):
        SASRecModel(SASRecConfig())


def test_short_training_beats_popularity(travel):
    dataset, split = travel
    torch.manual_seed(0)
    config = SASRecConfig(n_items=dataset.n_items, max_length=30, hidden=32)
    model = SASRecModel(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    rng = np.random.default_rng(0)
    sequences = [s for s in split.train if len(s) >= 2]
    for _ in range(2):
        order = rng.permutation(len(sequences))
        for start in range(0, len(order), 64):
            batch = model.training_batch([sequences[i] for i in order[start:start + 64]], rng)
            loss = model(**batch).loss
            assert loss is not None
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()

    def sasrec_scores(histories):
        with torch.no_grad():
            return model.score(torch.as_tensor(pad_left(histories, config.max_length))).numpy()

    counts = count_items(split.train, dataset.n_items)

    def popularity_scores(histories):
        return np.tile(counts.astype(np.float32), (len(histories), 1))

    def ndcg(score_fn):
        return evaluate_scores(score_fn, split.valid, dataset.n_items, item_counts=counts,
                               ks=(10,), progress=False).metrics["ndcg_at_10"]

    sasrec, popularity = ndcg(sasrec_scores), ndcg(popularity_scores)
    assert sasrec > 1.5 * popularity, (sasrec, popularity)


def test_label_smoothing_spreads_mass_over_real_items_only():
    from recstack.sequential.losses import full_softmax_ce

    logits = torch.randn(4, 6)  # items 1..6; padding has no column
    targets = torch.tensor([3, 1, 0, 6])  # one padded position
    smoothed = full_softmax_ce(logits, targets, label_smoothing=0.1)
    # by hand: (1 - ε) on the target plus ε/6 on every item, padded row left out
    logp = torch.log_softmax(logits[[0, 1, 3]], dim=-1)
    wanted = targets[[0, 1, 3]] - 1
    manual = -(0.9 * logp.gather(1, wanted[:, None]).squeeze(1) + 0.1 * logp.mean(-1)).mean()
    assert torch.isfinite(smoothed) and torch.allclose(smoothed, manual, atol=1e-6)
    assert torch.allclose(full_softmax_ce(logits, targets, 0.0),
                          torch.nn.functional.cross_entropy(logits[[0, 1, 3]], wanted))
    with pytest.raises(ConfigError) as caught:
        SASRecModel(SASRecConfig(n_items=6, label_smoothing=1.0))
    assert caught.value.field == "label_smoothing"
