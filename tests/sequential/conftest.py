import pytest

from recstack.data.dataset import SequenceDataset
from recstack.data.splits import Split, leave_one_out


@pytest.fixture(scope="session")
def ml100k_split(shared_data) -> Split:
    from recstack.data.movielens import load_movielens_100k

    return leave_one_out(SequenceDataset.from_interactions(
        load_movielens_100k(shared_data / "ml-100k")))
