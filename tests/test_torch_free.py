"""The torch extra is optional: without torch, the CLI, the treatment system, the feature store,
monitoring and a service serving treatment all work.

Checked with an import hook (not a second virtualenv): each step runs in a fresh interpreter
whose ``import torch`` fails as it would where torch is not installed. A module that imports
torch at the top of the CLI's or the service's import graph makes this test fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

NO_TORCH = textwrap.dedent("""
    import sys

    class NoTorch:
        # A meta-path finder that answers for torch before the real one can.
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoTorch())
""")
CLI = NO_TORCH + textwrap.dedent("""
    from recstack.cli import main
    sys.argv = ["recstack", *sys.argv[1:]]
    try:
        main()
    finally:
        assert "torch" not in sys.modules
""")
SERVICE = NO_TORCH + textwrap.dedent("""
    from fastapi.testclient import TestClient
    from recstack.api.main import create_app

    with TestClient(create_app()) as client:
        assert client.get("/health").status_code == 200
        features = {"age": 31, "sphere_d": -8.5, "ata_mm": 11.8, "wtw_mm": 11.6,
                    "acd_mm": 3.2, "lens_thickness_mm": 3.7, "clr_um": 40}
        answer = client.post("/v1/treatment/recommend",
                             json={"model": "torchless-treatment@champion",
                                   "features": features})
        assert answer.status_code == 200, answer.text
        assert answer.json()["options"], answer.text
        # Another system's route answers with a clear error, not a crash.
        other = client.post("/v1/recommendations", json={"user_id": "u1"})
        assert other.status_code in (404, 503), other.text
    assert "torch" not in sys.modules, "serving treatment imported torch"
    print("served treatment without torch")
""")


def _run(code: str, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECSTACK_HOME": str(home), "COLUMNS": "160",
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_cli_and_treatment_service_work_without_torch(tmp_path: Path):
    home = tmp_path / "home"
    data = tmp_path / "clinic.csv"
    steps = [
        ["--help"],
        ["treatment", "--help"],
        ["treatment", "simulate", "--out", str(data), "-n", "600"],
        ["treatment", "fit", "--data", str(data), "--name", "torchless-treatment"],
        ["models", "promote", "torchless-treatment", "1", "--alias", "champion"],
        ["models", "list"],
        ["features", "list"],
        ["monitor", "--help"],
        ["monitor", "alerts"],
        ["settings"],
    ]
    for args in steps:
        result = _run(CLI, *args, home=home)
        assert result.returncode == 0, f"recstack {' '.join(args)}:\n{result.stdout}{result.stderr}"
        assert "Traceback" not in result.stderr
    # The guard itself works: a neural command fails because torch is missing.
    neural = _run(CLI, "sequential", "train", "sasrec", home=home)
    assert neural.returncode == 2 and "pip install -e '.[torch]'" in neural.stdout
    assert "Traceback" not in neural.stderr
    served = _run(SERVICE, home=home)
    assert served.returncode == 0, served.stdout + served.stderr
    assert "served treatment without torch" in served.stdout
