"""Interaction data: loaders, the canonical in-memory forms, splits and synthetic data."""

from recstack.data.catalog import DATASETS, load_dataset
from recstack.data.dataset import Interactions, SequenceDataset
from recstack.data.files import load_interactions_file
from recstack.data.movielens import download_movielens, load_movielens_1m, load_movielens_100k
from recstack.data.sasrec import load_ml1m_t2, load_sasrec_file
from recstack.data.splits import EvalSet, Split, global_temporal_split, leave_one_out

__all__ = [
    "DATASETS",
    "EvalSet",
    "Interactions",
    "SequenceDataset",
    "Split",
    "download_movielens",
    "global_temporal_split",
    "leave_one_out",
    "load_dataset",
    "load_interactions_file",
    "load_ml1m_t2",
    "load_movielens_1m",
    "load_movielens_100k",
    "load_sasrec_file",
]
