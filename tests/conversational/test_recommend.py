"""Open recommendations over the real graph: FastRP neighbours, and (slow: e5 loads for about a
minute on 2 cores) the three stages and the final pick on one district's merchants."""

from __future__ import annotations

import numpy as np
import pytest

DISTRICT = "제주시 한림읍"  # 171 merchants: embedded in well under a minute


def test_fastrp_neighbours_share_place_or_kind_and_customers(store):
    from recstack.conversational.schema import SHARES
    from recstack.conversational.vectors import fastrp

    ids, embeddings = fastrp(store)
    assert embeddings.shape == (len(ids), 64)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-6)
    rows = {r["id"]: r for r in store.query(
        "MATCH (m:Merchant) RETURN m.id AS id, m.district AS district, m.category AS category, "
        + ", ".join(f"m.{s.prop} AS {s.prop}" for s in SHARES))}
    rng = np.random.default_rng(1)
    same, closer = 0, 0
    picks = rng.choice(len(ids), 100, replace=False)
    for row in picks:
        order = np.argsort(-(embeddings @ embeddings[row]))
        neighbour, far = rows[int(ids[order[1]])], rows[int(ids[order[-1]])]
        me = rows[int(ids[row])]
        same += neighbour["district"] == me["district"] or neighbour["category"] == me["category"]
        profile = np.array([me[s.prop] for s in SHARES])
        closer += (np.abs(profile - [neighbour[s.prop] for s in SHARES]).sum()
                   < np.abs(profile - [far[s.prop] for s in SHARES]).sum())
    # A profile nearer than the farthest merchant's in 74 of 100 (chance: about 50).
    assert same >= 90 and closer >= 70, (same, closer)


@pytest.fixture(scope="module")
def recommender(chat_settings, tmp_path_factory):
    pytest.importorskip("transformers")
    from recstack.conversational.build import build_graph
    from recstack.conversational.graph import graph_path, open_graph
    from recstack.conversational.recommend import open_recommender
    from recstack.conversational.vectors import build_vectors
    from recstack.settings import Settings

    # Its own home (the e5 cache and the vectors), the session's graph.
    settings = Settings(home=tmp_path_factory.mktemp("rec-home"),
                        data={"shared_dir": chat_settings.shared_data_dir},
                        systems={"chat": {"graph_path": graph_path(chat_settings)}})
    report = build_graph(settings)  # up to date: only reads the fingerprint
    store = open_graph(settings)
    made = build_vectors(settings, store, fingerprint=report.fingerprint, districts=[DISTRICT])
    assert made.changed and made.merchants == 171
    again = build_vectors(settings, store, fingerprint=report.fingerprint, districts=[DISTRICT])
    assert not again.changed  # idempotent
    yield settings, store, open_recommender(settings, store)
    store.close()


@pytest.mark.slow
def test_open_recommendation_finds_the_food_and_fits_the_companions(recommender, merchants):
    from recstack.conversational.ask import Asker

    _, store, built = recommender
    asker = Asker(store, recommender=lambda: built)
    noodles = asker.ask("친구들이랑 한림 칼국수 맛집 추천해줘")
    assert len(noodles.answer) == 3 and noodles.slots["route"] == "recommend"
    hallim = merchants[merchants["지역"].fillna("").str.contains(DISTRICT)]
    relevant = set(hallim.loc[hallim["가맹점명"].str.contains("칼국수"), "가맹점명"].str.strip())
    assert len(relevant) >= 3 and len(set(noodles.answer) & relevant) >= 2, noodles.answer
    assert all(r.split(" (")[0] in noodles.answer for r in noodles.reasons)
    assert "20대 이하 고객 비중" in noodles.reasons[0] and "유사도" in noodles.reasons[0]
    # The segment score is the percentile of the companion's shares: parents → 50대, 60대.
    parents = asker.ask("부모님 모시고 갈 한림 식당 추천해줘")
    friends = asker.ask("친구들이랑 갈 한림 식당 추천해줘")
    pct = built.percentile
    older = lambda names: np.mean([pct.loc[built.frame.index[built.frame["name"] == n][0],  # noqa: E731
                                           ["age50", "age60"]].mean() for n in names])
    assert older(parents.answer) > older(friends.answer)
    # An attraction: distances in the reasons, nearest districts only.
    beach = asker.ask("협재해수욕장 근처 아이들과 갈 만한 식당 추천해줘")
    assert beach.answer and "협재해수욕장에서 약" in beach.reasons[0]
    short = asker.ask("협재 근처 아이들과 갈 만한 식당 추천해줘")  # the parser's reading of 협재
    assert short.slots["attraction"] == "협재해수욕장" and "협재해수욕장에서 약" in short.reasons[0]
    _, stages = built.recommend("친구들이랑 한림 칼국수 맛집 추천해줘",
                                asker.parser.read("친구들이랑 한림 칼국수 맛집 추천해줘",
                                                  strict=False))
    assert len(stages.vector) == 20 and set(stages.final) <= set(stages.candidates + stages.filled)


@pytest.mark.slow
def test_a_recommendation_is_a_turn_the_next_can_refer_to(recommender):
    from recstack.conversational.ask import Asker

    _, store, built = recommender
    asker = Asker(store, recommender=lambda: built)
    first = asker.ask("부모님 모시고 갈 한림 흑돼지집 추천해줘", thread="rec")
    assert first.kind == "answer" and len(first.ids) == 3
    among = asker.ask("그 중 여성 비중이 가장 높은 곳은?", thread="rec")
    assert among.params["among"] == first.ids and among.answer[0] in first.answer
    # Without vectors a data question's unknown category is still an error naming it.
    plain = Asker(store)
    from recstack.errors import DataError

    with pytest.raises(DataError) as refused:
        plain.ask("한림 흑돼지집 중 30대 비중 높은 곳")
    assert refused.value.field == "category"


@pytest.mark.slow
def test_llm_hyde_and_palr_choice_with_fallback(recommender, scripted_llm):
    import json

    from recstack.conversational.ask import Asker
    from recstack.llm import open_chat_client

    settings, store, built = recommender
    asker = Asker(store, recommender=lambda: built,
                  llm=open_chat_client(scripted_llm.settings(settings)))
    question = "부모님 모시고 갈 한림 칼국수집 추천해줘"
    scripted_llm.script([
        {"when": "가상 문서", "reply": "한림칼국수 — 단품요리 전문, 제주시 한림읍. 리뷰: 보말"},
        {"when": "후보", "reply": json.dumps({"picks": [
            {"name": "한림칼국수", "reason": "보말칼국수로 이름난 곳이에요"}]},
            ensure_ascii=False)}])
    chosen = asker.ask(question)
    assert chosen.answer == ["한림칼국수"] and "LLM이 후보 중에서 골랐어요" in chosen.message
    sent = scripted_llm.requests()
    assert "가상 문서" in sent[0]["messages"][-1]["content"]
    listed = sent[1]["messages"][-1]["content"]
    assert listed.count("\n- ") == 6  # the scorer's six candidates, PALR picks among them
    assert chosen.reasons[0].startswith("한림칼국수: 보말칼국수로 이름난 곳이에요 (LLM;")
    # A pick outside the candidates: the scorer's three, and the answer says why.
    scripted_llm.script([{"when": "가상 문서", "reply": "한림칼국수 — 단품요리 전문"},
                         {"when": "후보", "reply": json.dumps({"picks": [
                             {"name": "없는집", "reason": "?"}]}, ensure_ascii=False)}])
    fallback = asker.ask(question)
    assert len(fallback.answer) == 3 and "유효하지 않아 기본 경로로" in fallback.message


@pytest.mark.slow
def test_question_vectors_are_cached_and_read_only(recommender):
    from recstack.conversational.vectors import e5_queries

    settings, _, built = recommender
    question = "친구들이랑 한림 칼국수 맛집 추천해줘"
    first = built.encode(question)
    assert built.encode(question) is first  # a repeated question skips the model
    assert not first.flags.writeable  # shared: a caller cannot change the cached vector
    fresh = e5_queries(settings)(question)  # another encoder, same model: same vector
    np.testing.assert_allclose(fresh, first, atol=1e-6)
