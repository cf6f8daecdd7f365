"""Fixtures shared across the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only shared data folder: $RECSTACK_DATA__SHARED_DIR, else ../shared/data."""
    configured = os.environ.get("RECSTACK_DATA__SHARED_DIR")
    root = Path(configured) if configured else (
        Path(__file__).resolve().parents[2] / "shared" / "data")
    if not root.is_dir():
        pytest.skip(f"shared data folder {root} not found (set RECSTACK_DATA__SHARED_DIR to it)")
    return root


@pytest.fixture()
def settings(tmp_path: Path):
    """Settings with an empty recstack home in a temporary folder."""
    from recstack.settings import Settings

    return Settings(home=tmp_path / "home")


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory):
    """A recstack home where a small travel set was generated and both baselines registered.

    Session-scoped: training and registering in MLflow take seconds, and several test modules
    read from the same registry without changing it.
    """
    from recstack.data.synthetic import TravelConfig, generate_travel
    from recstack.registry.models import ModelRegistry
    from recstack.sequential.pipeline import TrainConfig, train
    from recstack.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("trained") / "home")
    generate_travel(TravelConfig(n_users=300, n_products=120, n_countries=4, seed=1)).write(
        settings.data_home / "travel")
    versions = {}
    for model in ("popularity", "itemknn"):
        result = train(TrainConfig(model=model, dataset="travel", register_as="travel-next-item"),
                       settings, progress=False)
        versions[model] = result.version
    ModelRegistry(settings).promote("travel-next-item", versions["itemknn"].version, "champion")
    return settings, versions


class ScriptedLLM:
    """Handle on a running ``recstack.llm.scripted_server`` process (see ``scripted_llm``)."""

    def __init__(self, root: str):
        self.root = root
        self.url = f"{root}/v1"

    def script(self, rules: list[dict]) -> None:
        """Replace the rules (and forget the requests received so far)."""
        import httpx

        httpx.put(f"{self.root}/_script", json=rules, timeout=10).raise_for_status()

    def requests(self) -> list[dict]:
        """The request bodies received since the last ``script``, oldest first."""
        import httpx

        return httpx.get(f"{self.root}/_requests", timeout=10).json()

    def settings(self, settings, **llm):
        """A copy of ``settings`` with the LLM switch pointed at this server."""
        fields = {"base_url": self.url, "model": "scripted", "max_retries": 0, "timeout_s": 5.0,
                  **llm}
        return settings.model_copy(update={"llm": settings.llm.model_copy(update=fields)})


@pytest.fixture(scope="session")
def _scripted_llm_process():
    import subprocess
    import sys

    import httpx

    from recstack.server import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "recstack.llm.scripted_server",
                                "--port", str(port)])
    root = f"http://127.0.0.1:{port}"
    import time

    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"the scripted LLM server exited ({process.returncode})")
        try:
            if httpx.get(f"{root}/v1/models", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the scripted LLM server did not answer within 60 s")
        time.sleep(0.1)
    yield ScriptedLLM(root)
    process.terminate()
    process.wait(10)


@pytest.fixture()
def scripted_llm(_scripted_llm_process: ScriptedLLM) -> ScriptedLLM:
    """A real OpenAI-compatible HTTP server process answering from a script (no rules yet).

    ``scripted_llm.script([{"when": "substring", "reply": "..."}])`` sets its answers;
    ``scripted_llm.settings(settings)`` turns the LLM switch on towards it.
    """
    _scripted_llm_process.script([])
    return _scripted_llm_process
