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
