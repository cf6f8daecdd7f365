"""Meta-Prod2Vec: the four-term loss, metadata structure, cold-item fallback, bad input."""

import numpy as np
import pandas as pd
import pytest
import torch

from recstack.embeddings import MetaProd2Vec, MetaProd2VecConfig
from recstack.embeddings.meta_prod2vec import MetaProd2VecModel, sgns_loss
from recstack.errors import ConfigError, DataError

FAST = {"dim": 16, "epochs": 3, "batch_size": 512}


@pytest.fixture(scope="module")
def fitted(travel_split):
    ds = travel_split.dataset
    return MetaProd2Vec(**FAST).fit(travel_split.train, ds.n_items, ds.item_metadata)


def _same_city_share(model, dataset, k=10):
    city = dataset.item_metadata["city"].to_numpy()
    items = np.arange(1, dataset.n_items + 1)
    scores = model.similarity(items)
    scores[:, 0] = -np.inf
    scores[np.arange(len(items)), items] = -np.inf
    top = np.argsort(-scores, axis=1)[:, :k]
    return float((city[top - 1] == city[items - 1][:, None]).mean())


def test_sgns_loss_prefers_aligned_positives():
    source = torch.tensor([[1.0, 0.0]])
    good = sgns_loss(source, torch.tensor([[3.0, 0.0]]), torch.tensor([[[-3.0, 0.0]]]))
    bad = sgns_loss(source, torch.tensor([[-3.0, 0.0]]), torch.tensor([[[3.0, 0.0]]]))
    assert good.item() < 0.1 < bad.item()


def test_metadata_terms_drop_out_for_items_without_metadata():
    config = MetaProd2VecConfig(dim=4)
    model = MetaProd2VecModel(config, n_items=3, n_meta=2)
    torch.nn.init.normal_(model.output.weight)
    args = (torch.tensor([1]), torch.tensor([2]))
    negs = (torch.tensor([[3]]), torch.tensor([[5]]))
    no_meta = model(*args, torch.tensor([-1]), torch.tensor([-1]), *negs)
    only_ii = MetaProd2VecModel(MetaProd2VecConfig(dim=4, weight_im=0, weight_mi=0,
                                                   weight_mm=0), 3, 2)
    only_ii.load_state_dict(model.state_dict())
    assert torch.isclose(no_meta, only_ii(*args, torch.tensor([4]), torch.tensor([5]), *negs))
    with_meta = model(*args, torch.tensor([4]), torch.tensor([5]), *negs)
    assert not torch.isclose(no_meta, with_meta)


def test_training_lowers_the_loss_and_is_reproducible(fitted, travel_split):
    assert fitted.loss_history_[-1] < fitted.loss_history_[0]
    ds = travel_split.dataset
    again = MetaProd2Vec(**FAST).fit(travel_split.train, ds.n_items, ds.item_metadata)
    assert np.allclose(again.query_vectors_, fitted.query_vectors_)


def test_neighbours_group_by_city_more_than_without_metadata(fitted, travel_split):
    ds = travel_split.dataset
    plain = MetaProd2Vec.from_preset("prod2vec", **FAST).fit(travel_split.train, ds.n_items,
                                                             ds.item_metadata)
    share = _same_city_share(fitted, ds)
    n_cities = ds.item_metadata["city"].nunique()
    assert share > 3.0 / n_cities  # far above chance
    assert share > _same_city_share(plain, ds)


def test_an_item_never_viewed_gets_neighbours_from_its_city(travel_split):
    ds = travel_split.dataset
    target = int(np.argmax(travel_split.item_counts[1:])) + 1  # drop the busiest item
    train = [s[s != target] for s in travel_split.train]
    model = MetaProd2Vec(**FAST).fit(train, ds.n_items, ds.item_metadata)
    assert model.item_counts_[target] == 0
    scores = model.similarity(np.array([target]))[0]
    scores[[0, target]] = -np.inf
    city = ds.item_metadata["city"]
    top = np.argsort(-scores)[:10]
    assert (city.loc[top] == city.loc[target]).mean() > 3.0 / city.nunique()  # 3x chance


def test_missing_metadata_for_some_items_still_trains(travel_split):
    ds = travel_split.dataset
    meta = ds.item_metadata.copy()
    meta.loc[meta.index[::3], "city"] = None
    model = MetaProd2Vec(**FAST).fit(travel_split.train, ds.n_items, meta)
    assert np.isfinite(model.query_vectors_).all()
    assert model.similarity(np.array([1, 2])).shape == (2, ds.n_items + 1)


def test_no_metadata_at_all_falls_back_to_prod2vec(travel_split):
    ds = travel_split.dataset
    model = MetaProd2Vec(**FAST).fit(travel_split.train, ds.n_items, None)
    assert model.metadata_vocabulary_ == []
    assert np.isfinite(model.similarity(np.array([1]))).all()


@pytest.mark.parametrize(("params", "field"), [
    ({"dim": 0}, "dim"), ({"weight_im": -1.0}, "weight_im"), ({"weight_mm": float("nan")},
                                                             "weight_mm"),
    ({"optimizer": "lbfgs"}, "optimizer"), ({"learning_rate": 0}, "learning_rate"),
])
def test_invalid_hyper_parameters_name_the_field(params, field):
    with pytest.raises(ConfigError) as err:
        MetaProd2Vec(**params)
    assert err.value.field == field


def test_metadata_fields_accept_a_comma_list():
    assert MetaProd2VecConfig(metadata_fields="city, category").metadata_fields == (
        "city", "category")


def test_bad_sequences_and_unfitted_use_raise_clear_errors():
    with pytest.raises(DataError, match="two or more"):
        MetaProd2Vec(**FAST).fit([np.array([1]), np.array([], dtype=np.int64)], 3)
    with pytest.raises(DataError) as err:
        MetaProd2Vec(**FAST).fit([np.array([1, 9])], 3)
    assert err.value.field == "sequences"
    with pytest.raises(ConfigError, match="not fitted"):
        MetaProd2Vec().similarity(np.array([1]))


def test_unknown_metadata_field_is_reported(travel_split):
    ds = travel_split.dataset
    with pytest.raises(DataError) as err:
        MetaProd2Vec(metadata_fields=("planet",), **FAST).fit(
            travel_split.train, ds.n_items, pd.DataFrame(ds.item_metadata))
    assert err.value.field == "metadata_fields"


@pytest.fixture(scope="module")
def one_unseen_item_per_city(travel_split):
    """Fitted on sessions with one item of each city removed (never viewed), plus those items."""
    ds = travel_split.dataset
    city = ds.item_metadata["city"]
    counts = travel_split.item_counts
    # The least viewed item of each city (ties: lowest id) becomes a never-viewed catalogue item.
    unseen = np.array([min(group.index, key=lambda i: (counts[i], i))
                       for _, group in city.groupby(city)])
    train = [s[~np.isin(s, unseen)] for s in travel_split.train]
    model = MetaProd2Vec(**FAST).fit(train, ds.n_items, ds.item_metadata)
    assert (model.item_counts_[unseen] == 0).all()
    return model, unseen, city


def _queries(model, city, k=20):
    busiest = np.argsort(-model.item_counts_)
    return busiest[busiest > 0][:k]


def test_candidate_metadata_ranks_an_unseen_item_of_the_query_city_first(
        one_unseen_item_per_city):
    model, unseen, city = one_unseen_item_per_city
    for gamma, expected in ((0.0, False), (1.0, True)):
        model.set_scoring(score_meta_query=0.0, score_meta_candidate=gamma)
        wins = []
        for q in _queries(model, city):
            scores = model.similarity(np.array([q]))[0, unseen]  # the never-viewed items
            same = city.loc[unseen].to_numpy() == city.loc[q]
            if gamma == 0.0:  # their output vectors never moved: no way to tell them apart
                assert np.allclose(scores, scores[0])
            wins.append(scores[same].min() > scores[~same].max())
        assert all(wins) is expected, (gamma, wins)
    model.set_scoring(score_meta_query=1.0, score_meta_candidate=1.0)


def test_frequency_shrink_lifts_rarely_viewed_candidates(one_unseen_item_per_city):
    model, unseen, city = one_unseen_item_per_city

    def unseen_rank(shrink):
        model.set_scoring(score_meta_candidate=1.0, score_shrink=shrink)
        ranks = []
        for q in _queries(model, city):
            scores = model.similarity(np.array([q]))[0]
            scores[[0, q]] = -np.inf
            mine = unseen[city.loc[unseen].to_numpy() == city.loc[q]][0]
            ranks.append(int((scores > scores[mine]).sum()))
        return np.array(ranks)

    plain, shrunk = unseen_rank(0.0), unseen_rank(2.0)
    model.set_scoring(score_shrink=0.0)
    assert (shrunk <= plain).all() and shrunk.mean() < plain.mean()


def test_composed_vectors_match_the_trained_logits(fitted):
    beta, gamma, n0, eta = 0.5, 2.0, 3.0, 0.3
    fitted.set_scoring(score_meta_query=beta, score_meta_candidate=gamma, score_shrink=n0,
                       score_popularity=eta)
    try:
        w_in = fitted.model_.input.weight.detach().numpy().astype(np.float64)
        w_out = fitted.model_.output.weight.detach().numpy().astype(np.float64)
        n = fitted.model_.n_items
        counts = fitted.item_counts_.astype(np.float64)
        city = fitted.metadata_table_[:, 0]  # travel items have one token: their city
        meta = np.where(city >= 0, city + n + 1, -1)

        def shrunk(table: np.ndarray, item: int) -> np.ndarray:
            # naive reference: the view-weighted mean of the items of the same city
            same = [j for j in range(1, n + 1) if city[j] == city[item]]
            mean = sum(counts[j] * table[j] for j in same) / sum(counts[j] for j in same)
            own = counts[item] / (counts[item] + n0)
            return own * table[item] + (1 - own) * mean

        q, c = 5, np.arange(1, n + 1)
        assert counts[q] > 0
        g = gamma * n0 / (n0 + counts[c])
        out_c = np.array([shrunk(w_out, j) for j in c])
        expected = ((shrunk(w_in, q) + beta * w_in[meta[q]])
                    @ (out_c + g[:, None] * w_out[meta[c]]).T + eta * np.log1p(counts[c]))
        assert np.allclose(fitted.similarity(np.array([q]))[0, 1:], expected, atol=1e-4)
    finally:
        fitted.set_scoring(score_meta_query=1.0, score_meta_candidate=1.0, score_shrink=0.0,
                           score_popularity=0.0)


def test_shrinking_pulls_rarely_viewed_items_to_their_group_and_keeps_popular_ones(fitted):
    from recstack.embeddings.meta_prod2vec import shrink_to_groups

    counts = fitted.item_counts_.astype(np.float64)
    vectors = fitted.model_.output.weight.detach().numpy()[:len(counts)].astype(np.float64)
    (shrunk,), anchored = shrink_to_groups([vectors], fitted.metadata_table_, counts, 5.0)
    rare, popular = np.argmin(np.where(counts > 0, counts, np.inf)), np.argmax(counts)
    same_city = fitted.metadata_table_[:, 0] == fitted.metadata_table_[rare, 0]
    group_mean = (counts[same_city, None] * vectors[same_city]).sum(0) / counts[same_city].sum()
    assert anchored[rare] and anchored[popular] and not anchored[0]  # padding: no metadata
    assert np.linalg.norm(shrunk[rare] - group_mean) < np.linalg.norm(vectors[rare] - group_mean)
    assert np.linalg.norm(shrunk[popular] - vectors[popular]) < 0.05 * np.linalg.norm(
        vectors[popular])
    assert np.allclose(shrunk[0], vectors[0])


def test_an_index_over_the_composed_vectors_serves_the_same_ranking(fitted, travel_split):
    from recstack.embeddings import SimilarItemsBundle

    ds = travel_split.dataset
    fitted.set_scoring(score_meta_candidate=1.0, score_shrink=2.0)
    try:
        bundle = SimilarItemsBundle.from_vectors(ds.item_ids, ds.item_metadata,
                                                 fitted.query_vectors_, fitted.candidate_vectors_)
        scores = fitted.similarity(np.array([3]))[0]
        scores[[0, 3]] = -np.inf
        expected = [str(ds.item_ids[i - 1]) for i in np.argsort(-scores, kind="stable")[:10]]
        assert [s.item_id for s in bundle.similar(str(ds.item_ids[2]), 10)] == expected
    finally:
        fitted.set_scoring(score_shrink=0.0)


def test_scoring_options_are_checked(fitted):
    with pytest.raises(ConfigError) as err:
        fitted.set_scoring(score_meta_candidate=-1.0)
    assert err.value.field == "score_meta_candidate"
    with pytest.raises(ConfigError) as err:
        fitted.set_scoring(score_popularity=float("nan"))
    assert err.value.field == "score_popularity"
    with pytest.raises(ConfigError, match="not fitted"):
        MetaProd2Vec().set_scoring(score_shrink=1.0)
