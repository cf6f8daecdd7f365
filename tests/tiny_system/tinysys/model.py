"""The tiny system's model: a greeting saved as a file, registered in MLflow like any model."""

import json
import tempfile
from pathlib import Path

from recstack.registry.models import ModelRegistry
from recstack.registry.tracking import start_run
from recstack.system import DemoOutcome

PYFUNC = Path(__file__).with_name("pyfunc_model.py")
OPENED: list["Counter"] = []


class Counter:
    """A resource the service opens at start-up and closes at shutdown."""

    def __init__(self) -> None:
        self.closed = False
        OPENED.append(self)

    def close(self) -> None:
        self.closed = True


def open_counter(settings) -> Counter:
    return Counter()


def load(folder: Path) -> dict:
    return json.loads((folder / "greeting.json").read_text())


def register(settings, greeting: str, accuracy: float) -> str:
    with tempfile.TemporaryDirectory() as tmp, start_run(settings, "tiny", kind="train"):
        folder = Path(tmp) / "bundle"
        folder.mkdir()
        (folder / "greeting.json").write_text(json.dumps({"greeting": greeting}))
        info = ModelRegistry(settings).log_and_register(
            "tiny-greeter", folder, PYFUNC, None, None,
            {"kind": "tiny", "model_type": "greeter", "valid_accuracy": f"{accuracy:.3f}"})
    return info.version


def demo(settings, console, quick: bool = False) -> DemoOutcome:
    from tinysys.system import SPEC

    greeting = SPEC.settings_of(settings).greeting
    register(settings, greeting, 0.5)
    register(settings, greeting.upper(), 0.9)
    ModelRegistry(settings).promote_best("tiny-greeter", "valid_accuracy")
    return DemoOutcome(summary="greeter registered", examples=["curl /v1/tiny/greet"])
