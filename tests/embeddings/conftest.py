"""Small simulated travel sessions shared by the embeddings tests; torch on one thread."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def travel():
    from recstack.data.synthetic import TravelConfig, generate_travel

    return generate_travel(TravelConfig(n_users=400, n_products=200, n_countries=4, seed=3))


@pytest.fixture(scope="session")
def travel_sessions(travel):
    from recstack.embeddings import sessions_dataset

    return sessions_dataset(travel.events, travel.products, name="travel")


@pytest.fixture(scope="session")
def travel_split(travel_sessions):
    from recstack.embeddings import next_view_split

    return next_view_split(travel_sessions)
