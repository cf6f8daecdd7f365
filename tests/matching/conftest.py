"""Small real pair files: the first few hundred lines of Geo-ER OSM–Foursquare Pittsburgh."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

GEO_SET = "place-matching/geo-er/osm_fsq/pit"
SIZES = {"train": 800, "valid": 400, "test": 400}  # lines taken from each file


@pytest.fixture(scope="session")
def geo_files(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """train/valid/test files of a few hundred real pairs each (gzip, as the shared data is)."""
    folder = shared_data / GEO_SET
    if not folder.is_dir():
        pytest.skip(f"no Geo-ER pairs at {folder}")
    out = tmp_path_factory.mktemp("geo")
    files = {}
    for part, n in SIZES.items():
        with gzip.open(folder / f"{part}.txt.gz", "rt", encoding="utf-8") as source:
            lines = [next(source) for _ in range(n)]
        files[part] = out / f"{part}.txt.gz"
        with gzip.open(files[part], "wt", encoding="utf-8") as target:
            target.writelines(lines)
    return files


@pytest.fixture(scope="session")
def geo_pairs(geo_files: dict[str, Path]):
    from recstack.matching.data import read_pairs

    return {part: read_pairs(path, require_labels=True) for part, path in geo_files.items()}


KO_EN_CITIES = 700  # the most populous gazetteer cities used by the Korean ↔ English tests


@pytest.fixture(scope="session")
def gazetteer(shared_data: Path) -> Path:
    path = shared_data / "gazetteer" / "cities_ko_en_geonames.csv"
    if not path.is_file():
        pytest.skip(f"no gazetteer at {path}")
    return path


@pytest.fixture(scope="session")
def ko_en_pairs(gazetteer: Path):
    """Korean ↔ English train/valid/test pairs from the 700 most populous cities (seed 0)."""
    from recstack.matching.korean_pairs import build_korean_english_pairs

    return build_korean_english_pairs(gazetteer, seed=0, limit=KO_EN_CITIES)


@pytest.fixture(scope="session")
def ko_en_matcher(ko_en_pairs):
    """A crosslingual matcher fitted on the small Korean ↔ English set (100 boosting rounds)."""
    from recstack.matching.crosslingual import CrossLingualMatcher

    return CrossLingualMatcher(max_iter=100).fit(ko_en_pairs["train"], ko_en_pairs["valid"])


@pytest.fixture(scope="session")
def e5_home(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A recstack home whose encoder cache holds e5, converted once per session (needs torch)."""
    pytest.importorskip("torch")
    from recstack.encoders import ensure_e5

    home = tmp_path_factory.mktemp("e5-home")
    ensure_e5(home)
    return str(home)
