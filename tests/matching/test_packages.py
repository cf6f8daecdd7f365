"""Package recommendation: synthetic packages (Korean names) and planners derived from them
(English names, stops dropped and added) → ranked packages with matched and unmatched stops,
from the library, `recstack packages recommend` and `POST /v1/packages/recommend`; every
decision logged; bad input answered naming the field."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recstack.errors import DataError
from recstack.matching.data import Record
from recstack.settings import Settings

NAME = "place-matcher-ko"


@pytest.fixture(scope="module")
def catalogue(gazetteer):
    from recstack.matching.korean_pairs import gazetteer_places
    from recstack.matching.packages import synthetic_packages

    places = gazetteer_places(gazetteer, seed=0, limit=700)
    packages, stops_of = synthetic_packages(places, n_packages=40, seed=0)
    return places, packages, stops_of


def test_the_source_package_ranks_first(catalogue, ko_en_matcher):
    from recstack.matching.packages import recommendation_accuracy

    places, packages, stops_of = catalogue
    assert all(3 <= len(p.stops) <= 6 for p in packages)
    assert any("시" in s.name or "역" in s.name for p in packages for s in p.stops)
    result = recommendation_accuracy(packages, stops_of, places, ko_en_matcher, ko_en_matcher,
                                     n_planners=15, seed=0)
    assert result["source_ranked_first"] >= 0.7 and result["mrr"] >= 0.75


def test_ranked_packages_list_matched_and_unmatched_stops(catalogue, ko_en_matcher):
    from recstack.matching.packages import planner_from_package, recommend_packages

    places, packages, stops_of = catalogue
    planner = planner_from_package(stops_of[3], places, np.random.default_rng(1), drop=1, add=1)
    planner.append(Record("Atlantis Lost City"))  # a place no package visits
    result = recommend_packages(planner, packages, ko_en_matcher, ko_en_matcher, top=3)
    best = result.packages[0]
    assert best.package_id == packages[3].id
    assert len(planner) - 1 in best.unmatched_planner_stops
    assert best.unmatched_package_stops  # one stop of the package was dropped
    assert all(planner[m.planner_stop].name == m.planner_name for m in best.matched)
    assert 0 < best.match_rate <= 1 and len(result.stop_decisions) == len(planner)
    assert [p.match_rate for p in result.packages] == sorted(
        (p.match_rate for p in result.packages), reverse=True)
    with pytest.raises(DataError, match="none of the planner") as unknown:
        recommend_packages([Record("Atlantis Lost City"), Record("El Dorado")], packages,
                           ko_en_matcher, ko_en_matcher)
    assert unknown.value.field == "planner.stops"
    with pytest.raises(DataError) as empty:
        recommend_packages([], packages, ko_en_matcher, ko_en_matcher)
    assert empty.value.field == "planner.stops"


@pytest.fixture(scope="module")
def package_home(tmp_path_factory, ko_en_pairs, catalogue):
    from recstack.matching.pipeline import MatchTrainConfig, train
    from recstack.registry.models import ModelRegistry

    home = tmp_path_factory.mktemp("packages")
    settings = Settings(home=home / "home")
    result = train(MatchTrainConfig(home / "train", home / "valid", model="crosslingual",
                                    params={"max_iter": 100}, register_as=NAME), settings,
                   pairs=(ko_en_pairs["train"], ko_en_pairs["valid"]))
    ModelRegistry(settings).promote(NAME, result.version.version, "champion")
    path = home / "packages.json"
    path.write_text(json.dumps({"packages": [p.to_dict() for p in catalogue[1]]},
                               ensure_ascii=False))
    return settings, path


def _planner(catalogue, index=5):
    from recstack.matching.packages import planner_from_package

    places, packages, stops_of = catalogue
    stops = planner_from_package(stops_of[index], places, np.random.default_rng(2))
    return packages[index].id, [{"name": s.name, **({"lat": s.lat, "lon": s.lon}
                                                    if s.has_coordinates else {})}
                                for s in stops]


def test_cli_recommends_and_logs(package_home, catalogue, tmp_path, monkeypatch):
    from recstack.cli import build_app
    from recstack.monitoring.labels import prediction_frame
    from recstack.monitoring.log import PredictionLog
    from recstack.settings import get_settings

    settings, packages_file = package_home
    source, stops = _planner(catalogue)
    planner = tmp_path / "planner.json"
    planner.write_text(json.dumps({"stops": stops}))
    monkeypatch.setenv("RECSTACK_HOME", str(settings.home))
    monkeypatch.setenv("RECSTACK_MATCHING__PACKAGES", str(packages_file))
    monkeypatch.setenv("RECSTACK_MATCHING__PACKAGE_MODEL", f"{NAME}@champion")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        done = runner.invoke(build_app(), ["packages", "recommend", "--planner", str(planner),
                                           "--json"], env={"COLUMNS": "200"})
        assert done.exit_code == 0, done.output
        body = json.loads(done.output)
        assert body["packages"][0]["package_id"] == source
        with PredictionLog(get_settings()) as log:
            logged = prediction_frame(log.store, NAME)
        assert len(logged) == len(stops) + 1  # one per stop decision, one for the ranking
        bad = tmp_path / "bad.json"
        bad.write_text('{"stops": [{"name": "Busan"},]}')
        failed = runner.invoke(build_app(), ["packages", "recommend", "--planner", str(bad)])
        assert isinstance(failed.exception, DataError) and "not valid JSON" in str(
            failed.exception)
        bad.write_text('{"stops": [{"lat": 35.1, "lon": 129.0}]}')
        failed = runner.invoke(build_app(), ["packages", "recommend", "--planner", str(bad)])
        assert failed.exception.field == "planner.stops.0.name"
    finally:
        get_settings.cache_clear()


def test_recommend_over_http(package_home, catalogue):
    from recstack.api.main import create_app

    settings, packages_file = package_home
    source, stops = _planner(catalogue)
    env_settings = Settings(home=settings.home, systems={"matching": {
        "packages": packages_file, "package_model": f"{NAME}@champion"}})
    with TestClient(create_app(env_settings)) as client:
        answer = client.post("/v1/packages/recommend", json={"planner": {"stops": stops},
                                                             "top": 3})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["packages"][0]["package_id"] == source and len(body["packages"]) <= 3
        assert answer.headers["X-Request-ID"] == body["request_id"]
        inline = client.post("/v1/packages/recommend", json={
            "planner": {"stops": [{"name": "Busan"}]},
            "packages": [{"id": "p1", "stops": [{"name": "부산광역시"}, {"name": "울산"}]},
                         {"id": "p2", "stops": [{"name": "서울"}]}]})
        assert inline.status_code == 200, inline.text
        assert [p["package_id"] for p in inline.json()["packages"]] == ["p1"]
        for body, field in [({"planner": {"stops": []}}, "planner.stops"),
                            ({"planner": {"stops": [{"name": " "}]}}, "planner.stops.0.name"),
                            ({"planner": {"stops": [{"name": "Busan", "lat": 1}]}},
                             "planner.stops.0"),
                            ({"planner": {"stops": [{"name": "Atlantis Lost City"}]}},
                             "planner.stops"),
                            ({}, "planner")]:
            bad = client.post("/v1/packages/recommend", json=body)
            assert bad.status_code == 422, bad.text
            assert bad.json()["field"] == field and "Traceback" not in bad.text
        malformed = client.post("/v1/packages/recommend", content=b'{"planner": ',
                                headers={"content-type": "application/json"})
        assert malformed.status_code == 422 and "JSON" in malformed.json()["message"]
