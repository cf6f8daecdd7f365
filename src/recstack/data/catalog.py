"""Datasets by name: what ``--dataset`` accepts on the command line.

``travel`` is generated on first use (no download, works on a fresh machine); the MovieLens
sets are read from the shared data folder or the recstack home; anything else is a path to an
interactions file (CSV or Parquet).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from recstack.data.dataset import SequenceDataset
from recstack.errors import DataError
from recstack.settings import Settings

log = logging.getLogger(__name__)


def _travel(settings: Settings) -> SequenceDataset:
    import pandas as pd

    from recstack.data.dataset import Interactions
    from recstack.data.files import load_interactions_file
    from recstack.data.synthetic import generate_travel

    folder = settings.data_home / "travel"
    if not (folder / "events.parquet").exists():
        log.info("generating the synthetic travel data in %s", folder)
        generate_travel().write(folder)
    events = load_interactions_file(folder / "events.parquet", item_columns=[], name="travel")
    products = pd.read_csv(folder / "products.csv", dtype={"item_id": str})
    return SequenceDataset.from_interactions(
        Interactions(name="travel", events=events.events, items=products))


def _ml1m_t2(settings: Settings) -> SequenceDataset:
    from recstack.data.sasrec import load_ml1m_t2

    root = settings.shared_data_dir / "ml-1m"
    return load_ml1m_t2(root / "sasrec", movies_path=root / "movies.dat")


def _ml100k(settings: Settings) -> SequenceDataset:
    from recstack.data.movielens import load_movielens_100k

    return SequenceDataset.from_interactions(
        load_movielens_100k(_first_existing(settings, "ml-100k", "u.data")))


def _ml1m(settings: Settings) -> SequenceDataset:
    from recstack.data.movielens import load_movielens_1m

    return SequenceDataset.from_interactions(
        load_movielens_1m(_first_existing(settings, "ml-1m", "ratings.dat")))


def _first_existing(settings: Settings, name: str, marker: str) -> Path:
    """The dataset folder in the recstack home, else the shared data folder."""
    candidates = [settings.data_home / name, settings.shared_data_dir / name]
    for folder in candidates:
        if (folder / marker).exists():
            return folder
    return candidates[0]  # the loader's error then says where to put the files


DATASETS: dict[str, Callable[[Settings], SequenceDataset]] = {
    "travel": _travel,
    "ml-1m-t2": _ml1m_t2,
    "ml-1m": _ml1m,
    "ml-100k": _ml100k,
}


def load_dataset(name: str, settings: Settings) -> SequenceDataset:
    """A dataset by catalogue name, or from an interactions file path."""
    if name in DATASETS:
        return DATASETS[name](settings)
    path = Path(name)
    if path.suffix.lower() in {".csv", ".tsv", ".parquet", ".pq"}:
        from recstack.data.files import load_interactions_file

        return SequenceDataset.from_interactions(load_interactions_file(path))
    raise DataError(f"unknown dataset {name!r}", field="dataset",
                    fix=f"use one of {', '.join(DATASETS)} or a path to a .csv/.parquet file")
