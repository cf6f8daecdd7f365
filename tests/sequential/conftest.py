import pytest
import torch

from recstack.data.dataset import SequenceDataset
from recstack.data.splits import Split, leave_one_out
from recstack.data.synthetic import TravelConfig, generate_travel
from recstack.sequential.modules import ItemFeatures


@pytest.fixture(scope="session")
def ml100k_split(shared_data) -> Split:
    from recstack.data.movielens import load_movielens_100k

    return leave_one_out(SequenceDataset.from_interactions(
        load_movielens_100k(shared_data / "ml-100k")))


@pytest.fixture(scope="module")
def travel() -> tuple[Split, ItemFeatures]:
    """Small travel data with city and category encoded, for the bag-of-history models."""
    data = generate_travel(TravelConfig(n_users=400, n_products=210))
    dataset = SequenceDataset.from_interactions(data.to_interactions())
    features = ItemFeatures.from_metadata(dataset.item_metadata, ["city", "category"],
                                          dataset.n_items)
    return leave_one_out(dataset), features


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: OpenMP barriers cost more than they save, badly so on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
