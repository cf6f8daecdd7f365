"""Tests for recstack.evaluation.evaluate: protocol, reproducibility, errors and sanity checks."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from rich.console import Console

from recstack.data.splits import EvalSet
from recstack.errors import ConfigError, DataError
from recstack.evaluation import EvaluationResult, count_items, evaluate_scores

N_ITEMS = 50


def make_eval_set(n_rows: int = 60, seed: int = 0, n_items: int = N_ITEMS) -> EvalSet:
    """Random histories of 0..10 items; every 5th row re-consumes its target."""
    rng = np.random.default_rng(seed)
    histories, targets = [], []
    for r in range(n_rows):
        hist = rng.integers(1, n_items + 1, size=rng.integers(0, 11))
        target = int(rng.integers(1, n_items + 1))
        if r % 5 == 0:
            hist = np.append(hist, target)
        histories.append(hist.astype(np.int64))
        targets.append(target)
    return EvalSet(np.arange(n_rows), histories, np.asarray(targets, dtype=np.int64))


def markov_scorer(n_items: int = N_ITEMS, seed: int = 1):
    """Deterministic per-row scores (a random row per last item): no ties, batch-independent."""
    table = np.random.default_rng(seed).normal(size=(n_items + 1, n_items + 1))

    def score(histories):
        last = [int(h[-1]) if len(h) else 0 for h in histories]
        return table[last]  # (B, I + 1)

    return score


def target_aware_scorer(targets: np.ndarray, fn):
    """Scorer that knows the targets: rows arrive in order, so keep a cursor over them."""
    cursor = [0]

    def score(histories):
        tgt = targets[cursor[0]:cursor[0] + len(histories)]
        cursor[0] += len(histories)
        return fn(len(histories), tgt)

    return score


def counts_for(eval_set: EvalSet, n_items: int = N_ITEMS) -> np.ndarray:
    return count_items(eval_set.histories, n_items)


def run(score_fn, eval_set, **kwargs) -> EvaluationResult:
    kwargs.setdefault("item_counts", counts_for(eval_set))
    kwargs.setdefault("progress", False)
    return evaluate_scores(score_fn, eval_set, N_ITEMS, **kwargs)


def test_metric_names_are_mlflow_safe_and_complete():
    es = make_eval_set()
    result = run(markov_scorer(), es, ks=(20, 5, 5))
    assert result.ks == (5, 20)
    assert result.n_rows == len(es)
    expected = {"mrr"}
    for k in (5, 20):
        expected |= {f"hr_at_{k}", f"recall_at_{k}", f"ndcg_at_{k}", f"coverage_at_{k}",
                     f"popularity_percentile_at_{k}", f"arp_at_{k}",
                     f"sampled100_hr_at_{k}", f"sampled100_ndcg_at_{k}"}
    assert set(result.metrics) == expected
    assert all("@" not in name for name in result.metrics)
    assert all(isinstance(v, float) for v in result.metrics.values())
    assert result.metrics["recall_at_5"] == result.metrics["hr_at_5"]
    assert "full ranking" in result.protocol and "sampled100" in result.protocol


def test_no_sampled_metrics_when_disabled():
    result = run(markov_scorer(), make_eval_set(), sampled_negatives=0)
    assert not any(name.startswith("sampled") for name in result.metrics)


def test_perfect_scorer_gets_one_and_target_last_gets_zero():
    es = make_eval_set()

    def perfect(b, tgt):
        scores = np.zeros((b, N_ITEMS + 1))
        scores[np.arange(b), tgt] = 1.0
        return scores

    def worst(b, tgt):
        scores = np.zeros((b, N_ITEMS + 1))
        scores[np.arange(b), tgt] = -1e9  # finite: masking must not be what ranks it last
        return scores

    best = run(target_aware_scorer(es.targets, perfect), es).metrics
    assert best["ndcg_at_10"] == 1.0 and best["hr_at_10"] == 1.0 and best["mrr"] == 1.0
    assert best["sampled100_ndcg_at_10"] == 1.0
    low = run(target_aware_scorer(es.targets, worst), es).metrics
    assert low["ndcg_at_10"] == 0.0 and low["hr_at_20"] == 0.0
    # Target last: rank = (#unmasked items) - 1, unmasked = all items minus seen non-targets.
    unmasked = [N_ITEMS - len(set(h.tolist()) - {t})
                for h, t in zip(es.histories, es.targets, strict=True)]
    assert low["mrr"] == pytest.approx(np.mean([1 / u for u in unmasked]))


def test_constant_scorer_is_not_lucky():
    es = make_eval_set()
    result = run(lambda hs: np.zeros((len(hs), N_ITEMS + 1)), es).metrics
    # Every unmasked item ties with the target, so the target ranks last (>= 39 > 20).
    assert result["hr_at_20"] == 0.0 and result["sampled100_hr_at_20"] == 0.0


def test_exclude_seen_hand_computed():
    # Items 1..5 score 0.9, 0.8, 0.7, 0.1, 0.0; column 0 is padding.
    scores = np.array([[5.0, 0.9, 0.8, 0.7, 0.1, 0.0]])
    es = EvalSet(np.array([0]), [np.array([1, 2])], np.array([3]))
    kw = dict(item_counts=np.ones(6), sampled_negatives=0, ks=(1, 3), progress=False)
    masked = evaluate_scores(lambda hs: scores, es, 5, **kw).metrics
    # Seen items 1 and 2 masked: target 3 (0.7) is first -> rank 0, HR@1 = 1, MRR = 1.
    assert masked["hr_at_1"] == 1.0 and masked["mrr"] == 1.0
    kept = evaluate_scores(lambda hs: scores, es, 5, exclude_seen=False, **kw).metrics
    # Not masked: 0.9 and 0.8 beat 0.7 -> rank 2 (the padding column's 5.0 is always masked).
    assert kept["hr_at_1"] == 0.0 and kept["hr_at_3"] == 1.0
    assert kept["mrr"] == pytest.approx(1 / 3)
    # A re-consumed target stays rankable: history [3, 1], target 3 -> only 0.8 beats 0.7.
    again = EvalSet(np.array([0]), [np.array([3, 1])], np.array([3]))
    res = evaluate_scores(lambda hs: scores, again, 5, **kw).metrics
    assert res["mrr"] == pytest.approx(1 / 2)


def naive_evaluation(score_fn, es: EvalSet, k: int, n_neg: int, seed: int):
    """Row-by-row reference: full and sampled ranks with plain Python sets and sorting."""
    rng = np.random.default_rng(seed)
    full, sampled = [], []
    for hist, target in zip(es.histories, es.targets.tolist(), strict=True):
        scores = np.asarray(score_fn([hist])[0], dtype=np.float32)
        seen = set(hist.tolist()) - {target}
        candidates = [i for i in range(1, N_ITEMS + 1) if i not in seen]
        full.append(sum(scores[i] >= scores[target] for i in candidates) - 1)
        # The sampler draws one uniform key per column for each row and keeps the largest keys.
        keys = rng.random(N_ITEMS + 1)
        allowed = [i for i in range(1, N_ITEMS + 1) if i not in seen and i != target]
        negatives = sorted(allowed, key=lambda i: -keys[i])[:n_neg]
        sampled.append(sum(scores[i] >= scores[target] for i in negatives))
    full, sampled = np.array(full), np.array(sampled)
    assert (sampled <= full).all()  # fewer competitors can only move the target up
    gain = lambda r: np.where(r < k, 1 / np.log2(r + 2), 0.0)  # noqa: E731
    return {"hr": np.mean(full < k), "ndcg": gain(full).mean(), "mrr": np.mean(1 / (full + 1)),
            "s_hr": np.mean(sampled < k), "s_ndcg": gain(sampled).mean()}


def test_agrees_with_naive_loop_and_is_batch_independent():
    es = make_eval_set(n_rows=80, seed=3)
    scorer = markov_scorer()
    ref = naive_evaluation(scorer, es, k=5, n_neg=20, seed=7)
    for batch_size in (7, 512):
        got = run(scorer, es, ks=(5,), sampled_negatives=20, seed=7,
                  batch_size=batch_size).metrics
        assert got["hr_at_5"] == pytest.approx(ref["hr"])
        assert got["ndcg_at_5"] == pytest.approx(ref["ndcg"])
        assert got["mrr"] == pytest.approx(ref["mrr"])
        assert got["sampled20_hr_at_5"] == pytest.approx(ref["s_hr"])
        assert got["sampled20_ndcg_at_5"] == pytest.approx(ref["s_ndcg"])
    assert ref["s_hr"] > ref["hr"]  # sampled metrics are inflated, hence labelled


def test_sampled_equals_full_when_negatives_cover_the_catalogue():
    es = make_eval_set()
    got = run(markov_scorer(), es, ks=(10,), sampled_negatives=N_ITEMS).metrics
    assert got[f"sampled{N_ITEMS}_hr_at_10"] == got["hr_at_10"]
    assert got[f"sampled{N_ITEMS}_ndcg_at_10"] == got["ndcg_at_10"]


def test_seed_changes_sampled_but_not_full_metrics():
    es = make_eval_set()
    a = run(markov_scorer(), es, ks=(5,), sampled_negatives=10, seed=0).metrics
    b = run(markov_scorer(), es, ks=(5,), sampled_negatives=10, seed=0).metrics
    c = run(markov_scorer(), es, ks=(5,), sampled_negatives=10, seed=1).metrics
    assert a == b
    assert a["ndcg_at_5"] == c["ndcg_at_5"]
    assert a["sampled10_ndcg_at_5"] != c["sampled10_ndcg_at_5"]


def test_popularity_oracle_beats_random_and_is_biased():
    rng = np.random.default_rng(0)
    n_items, n_rows = 200, 400
    p = 1.0 / np.arange(1, n_items + 1) ** 1.2  # Zipf-like: item 1 is the most popular
    p /= p.sum()
    train = [rng.choice(np.arange(1, n_items + 1), size=100, p=p) for _ in range(100)]
    counts = count_items(train, n_items)
    es = EvalSet(np.arange(n_rows), [np.array([], dtype=np.int64)] * n_rows,
                 rng.choice(np.arange(1, n_items + 1), size=n_rows, p=p))
    tie_break = np.concatenate([[0.0], rng.random(n_items) * 1e-3])  # counts can tie
    pop = evaluate_scores(lambda hs: np.tile(counts + tie_break, (len(hs), 1)), es, n_items,
                          item_counts=counts, progress=False).metrics
    rand = evaluate_scores(lambda hs: rng.random((len(hs), n_items + 1)), es, n_items,
                           item_counts=counts, progress=False).metrics
    assert pop["hr_at_10"] > 3 * rand["hr_at_10"]
    assert pop["ndcg_at_10"] > rand["ndcg_at_10"]
    assert pop["popularity_percentile_at_10"] > 0.9 > rand["popularity_percentile_at_10"]
    assert abs(rand["popularity_percentile_at_10"] - 0.5) < 0.1
    assert pop["arp_at_10"] > rand["arp_at_10"]
    assert pop["coverage_at_10"] == pytest.approx(10 / n_items)  # one list for everyone
    assert rand["coverage_at_10"] > 0.9


def test_progress_bar_and_table_render():
    es = make_eval_set()
    result = evaluate_scores(markov_scorer(), es, N_ITEMS, item_counts=counts_for(es),
                             batch_size=16, progress=True)
    out = io.StringIO()
    Console(file=out, width=200).print(result.table())
    text = out.getvalue()
    for name in ("hr", "ndcg", "mrr", "sampled100_hr", "@10", "@20", "not comparable"):
        assert name in text


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda es: EvalSet(es.users[:0], [], es.targets[:0]), "eval_set"),
        (lambda es: EvalSet(es.users, es.histories, np.where(es.targets == es.targets[0], 0,
                                                             es.targets)), "targets"),
        (lambda es: EvalSet(es.users, es.histories, es.targets + N_ITEMS), "targets"),
    ],
)
def test_bad_eval_sets_raise_data_error(mutate, field):
    es = make_eval_set()
    with pytest.raises(DataError) as info:
        run(markov_scorer(), mutate(es), item_counts=counts_for(es))
    assert info.value.field == field


@pytest.mark.parametrize(
    "bad_fn",
    [lambda hs: np.zeros((len(hs), N_ITEMS)),  # forgot the padding column
     lambda hs: np.zeros((1, N_ITEMS + 1)),  # one row for the whole batch
     lambda hs: np.full((len(hs), N_ITEMS + 1), np.nan)],
)
def test_bad_score_fn_raises_data_error(bad_fn):
    with pytest.raises(DataError) as info:
        run(bad_fn, make_eval_set())
    assert info.value.field == "score_fn"


def test_bad_arguments():
    es = make_eval_set()
    with pytest.raises(DataError) as info:
        run(markov_scorer(), es, item_counts=np.ones(N_ITEMS))
    assert info.value.field == "item_counts"
    for kwargs, field in [({"ks": ()}, "ks"), ({"ks": (0,)}, "ks"),
                          ({"batch_size": 0}, "batch_size"),
                          ({"sampled_negatives": -1}, "sampled_negatives")]:
        with pytest.raises(ConfigError) as cinfo:
            run(markov_scorer(), es, **kwargs)
        assert cinfo.value.field == field


def test_fewer_finite_scores_than_k_are_dropped_from_lists():
    # 3 items, k=10: lists hold at most the 3 real items, never padding or masked ones.
    es = EvalSet(np.array([0, 1]), [np.array([1]), np.array([], dtype=np.int64)],
                 np.array([2, 3]))
    res = evaluate_scores(lambda hs: np.tile([9.0, 3.0, 2.0, 1.0], (len(hs), 1)), es, 3,
                          item_counts=np.array([0, 4, 2, 1]), ks=(10,), progress=False).metrics
    # Row 0 recommends [2, 3] (item 1 seen); row 1 recommends [1, 2, 3].
    assert res["coverage_at_10"] == 1.0
    # ARP: row 0 (2 + 1) / 2 = 1.5; row 1 (4 + 2 + 1) / 3 = 7/3; mean = 1.91667.
    assert res["arp_at_10"] == pytest.approx((1.5 + 7 / 3) / 2)
    assert not math.isnan(res["popularity_percentile_at_10"])
