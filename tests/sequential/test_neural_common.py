"""Contract tests over every registered neural model, with tiny configs.

Shapes, finite losses, one optimiser step lowers the loss on a fixed batch, checkpoint round
trip, no future leakage for left-to-right models, and the shared trainer's behaviour
(early stopping, resume, schedulers, AMP).
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest
import torch

from recstack.data.dataset import SequenceDataset
from recstack.data.splits import leave_one_out
from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.errors import ConfigError
from recstack.sequential.base import FitContext, Recommender, available_models, model_class
from recstack.sequential.neural import NeuralRecommender
from recstack.sequential.training import SCHEDULERS

NEURAL = [m for m in available_models() if issubclass(model_class(m), NeuralRecommender)]
CAUSAL = {"sasrec", "gsasrec", "meta-sasrec"}
TINY = {"max_length": 12, "epochs": 2, "batch_size": 32, "patience": 0}


@pytest.fixture(scope="module")
def travel():
    data = generate_travel(TravelConfig(n_users=120, n_products=210, n_countries=10, seed=3))
    dataset = SequenceDataset.from_interactions(data.to_interactions())
    return leave_one_out(dataset)


def _tiny_params(name: str) -> dict[str, object]:
    params: dict[str, object] = dict(TINY)
    model_cfg = model_class(name).Config().model
    for key, small in (("hidden", 16), ("embedding_dim", 16), ("ffn", 32),
                       ("n_negatives", 8), ("mlp_layers", "16,8")):
        if hasattr(model_cfg, key):
            params[f"model.{key}"] = small
    if "genres" in getattr(model_cfg, "metadata_fields", ""):
        params["model.metadata_fields"] = "city,category"  # travel data, not MovieLens
    return params


def _module(name: str, split):
    rec = model_class(name).from_params(_tiny_params(name))
    cfg = dataclasses.replace(rec.config.model, n_items=split.n_items)
    fields = [f for f in cfg.metadata_fields.split(",") if f]
    from recstack.sequential.modules import ItemFeatures

    features = (ItemFeatures.from_metadata(split.dataset.item_metadata, fields, split.n_items)
                if fields else None)
    return rec.module_cls(cfg, features), cfg


def test_every_issue_model_is_registered():
    assert {"sasrec", "gsasrec", "bert4rec", "meta-bert4rec", "ncf", "deepfm"} <= set(NEURAL)


@pytest.mark.parametrize("name", NEURAL)
def test_shapes_finite_loss_and_one_step_lowers_it(name, travel):
    torch.manual_seed(0)
    module, cfg = _module(name, travel)
    batch = module.training_batch(travel.train[:16], np.random.default_rng(0))
    out = module(**batch)
    assert out.loss is not None and torch.isfinite(out.loss)
    scores = module.score(torch.zeros((3, cfg.max_length), dtype=torch.long).index_fill_(
        1, torch.tensor([cfg.max_length - 1]), 1))
    assert scores.shape == (3, travel.n_items + 1) and torch.isfinite(scores[:, 1:]).all()
    module.eval()  # no dropout: the same batch gives the same loss before and after
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-3)
    loss = module(**batch).loss
    loss.backward()
    optimiser.step()
    with torch.no_grad():
        assert float(module(**batch).loss) < float(loss)


@pytest.mark.parametrize("name", NEURAL)
def test_fit_save_load_round_trip(name, travel, tmp_path):
    rec = model_class(name).from_params(_tiny_params(name))
    rec.fit(travel.train, travel.n_items, FitContext(
        valid=travel.valid, item_metadata=travel.dataset.item_metadata, progress=False))
    assert len(rec.history_.epochs) == 2 and rec.history_.best_epoch in (1, 2)
    rec.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    assert loaded.model_type == name and loaded.config == rec.config
    assert loaded.history_ == rec.history_
    histories = travel.test.histories[:5]
    np.testing.assert_allclose(loaded.score(histories), rec.score(histories), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("name", sorted(CAUSAL & set(NEURAL)))
def test_left_to_right_models_do_not_see_the_future(name, travel):
    module, cfg = _module(name, travel)
    module.eval()
    ids = torch.as_tensor(np.stack([np.arange(1, cfg.max_length + 1) % travel.n_items + 1]))
    changed = ids.clone()
    t = cfg.max_length // 2
    changed[0, t + 1:] = changed[0, t + 1:] % travel.n_items + 1  # rewrite the future
    with torch.no_grad():
        a, b = module.encode(ids), module.encode(changed)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1])
    assert not torch.allclose(a[:, -1], b[:, -1])


def test_early_stopping_keeps_the_best_epoch(travel):
    rec = model_class("sasrec").from_params({**_tiny_params("sasrec"), "epochs": 30,
                                             "patience": 2, "lr": 0.05})
    rec.fit(travel.train, travel.n_items, FitContext(valid=travel.valid, progress=False))
    history = rec.history_
    best = max(e.valid["ndcg_at_10"] for e in history.epochs)
    assert history.monitor == "ndcg_at_10" and history.best_value == pytest.approx(best)
    assert history.stopped_early and len(history.epochs) == history.best_epoch + 2


def test_another_monitored_metric_picks_the_epoch(travel):
    rec = model_class("sasrec").from_params({**_tiny_params("sasrec"), "epochs": 3,
                                             "monitor": "hr_at_20", "lr": 0.01})
    rec.fit(travel.train, travel.n_items, FitContext(valid=travel.valid, progress=False))
    history = rec.history_
    hits = [e.valid["hr_at_20"] for e in history.epochs]  # the cut-off 20 is added for it
    assert "ndcg_at_10" in history.epochs[0].valid
    assert history.best_value == max(hits) and history.best_epoch == hits.index(max(hits)) + 1
    with pytest.raises(ConfigError, match="monitor") as err:
        model_class("sasrec").from_params({**_tiny_params("sasrec"), "monitor": "auc"}).fit(
            travel.train, travel.n_items, FitContext(valid=travel.valid, progress=False))
    assert err.value.fix is not None and "ndcg_at_10" in err.value.fix


def test_checkpoint_resume_continues_where_it_stopped(travel, tmp_path):
    params = {**_tiny_params("sasrec"), "checkpoint_dir": str(tmp_path / "ckpt")}
    first = model_class("sasrec").from_params({**params, "epochs": 2})
    first.fit(travel.train, travel.n_items, FitContext(valid=travel.valid, progress=False))
    resumed = model_class("sasrec").from_params({**params, "epochs": 3})
    resumed.fit(travel.train, travel.n_items, FitContext(valid=travel.valid, progress=False))
    assert [e.epoch for e in resumed.history_.epochs] == [1, 2, 3]
    assert resumed.history_.epochs[0] == first.history_.epochs[0]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_scheduler_trains_with_amp(scheduler, travel):
    rec = model_class("sasrec").from_params({**_tiny_params("sasrec"), "scheduler": scheduler,
                                             "amp": True, "epochs": 2})
    rec.fit(travel.train, travel.n_items, FitContext(valid=travel.valid, progress=False))
    lrs = [e.lr for e in rec.history_.epochs]
    assert all(np.isfinite(e.loss) for e in rec.history_.epochs)
    if scheduler in {"exponential", "multiplicative", "cosine"}:
        assert lrs[1] < lrs[0]
    if scheduler == "constant":
        assert lrs[0] == lrs[1]


def test_training_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="scheduler"):
        model_class("sasrec").from_params({"scheduler": "warp"})
    with pytest.raises(ConfigError, match="lr"):
        model_class("sasrec").from_params({"lr": -1})


def test_a_seed_gives_the_same_model_whatever_ran_before(travel):
    def fit_sasrec() -> dict[str, torch.Tensor]:
        model = model_class("sasrec").from_params({**_tiny_params("sasrec"), "epochs": 1,
                                                   "seed": 7})
        model.fit(travel.train, travel.n_items,
                  FitContext(item_metadata=travel.dataset.item_metadata, progress=False))
        return model.module_.state_dict()

    first = fit_sasrec()
    torch.rand(1000)  # another model, or another test, drawing from torch's generator
    second = fit_sasrec()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_length_grouped_batches_cover_every_sequence_once_with_less_padding():
    from recstack.sequential.training import SequenceBatches

    rng = np.random.default_rng(0)
    sequences = [np.arange(1, n + 1) for n in rng.integers(2, 300, size=1000)]
    model = types.SimpleNamespace(training_batch=lambda rows, rng: rows)
    plain = SequenceBatches(model, sequences, batch_size=32)  # type: ignore[arg-type]
    grouped = SequenceBatches(model, sequences, batch_size=32,  # type: ignore[arg-type]
                              group_by_length=True)

    def padded(batches: list[np.ndarray]) -> int:  # cells a batch pads to its longest row
        return sum(len(b) * max(len(sequences[i]) for i in b) for b in batches)

    epoch = grouped.batch_rows(np.random.default_rng(1))
    assert len(epoch) == len(grouped) == len(plain)
    assert sorted(np.concatenate(epoch).tolist()) == list(range(len(sequences)))
    assert padded(epoch) < 0.75 * padded(plain.batch_rows(np.random.default_rng(1)))
    # still random: another epoch groups other sequences, and in another batch order
    again = grouped.batch_rows(np.random.default_rng(2))
    assert [b.tolist() for b in again] != [b.tolist() for b in epoch]
    assert [b.tolist() for b in grouped.batch_rows(np.random.default_rng(1))] == \
        [b.tolist() for b in epoch]


def test_length_grouped_training_learns(travel):
    cls = model_class("sasrec")
    params = {**_tiny_params("sasrec"), "epochs": 4, "group_by_length": True}
    model = cls.from_params(params).fit(travel.train, travel.n_items)
    losses = [e.loss for e in model.history_.epochs]
    assert losses[-1] < losses[0], losses
