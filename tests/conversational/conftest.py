"""The Jeju graph, built once from the real shared data into a temporary recstack home."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

MERCHANTS = "jeju/shinhan_mct_202312_latest_with_text.csv"


@pytest.fixture(scope="session")
def chat_settings(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """Settings whose home holds the built graph (read-only for the tests that use it)."""
    pytest.importorskip("kuzu", reason="the chat extra (kuzu) is not installed")
    if not (shared_data / MERCHANTS).is_file():
        pytest.skip(f"no Jeju merchant data at {shared_data / MERCHANTS}")
    from recstack.conversational.build import build_graph
    from recstack.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("chat-home"),
                        data={"shared_dir": shared_data})
    build_graph(settings)
    return settings


@pytest.fixture(scope="session")
def merchants(shared_data: Path) -> pd.DataFrame:
    """The merchant CSV as pandas reads it, for answers computed without the graph."""
    return pd.read_csv(shared_data / MERCHANTS, encoding="utf-8-sig")


@pytest.fixture()
def store(chat_settings):
    from recstack.conversational.graph import open_graph

    opened = open_graph(chat_settings)
    yield opened
    opened.close()
