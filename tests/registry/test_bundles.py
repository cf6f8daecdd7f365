"""log_bundle: one way for every system to log a bundle with its metrics and register it."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.models import infer_signature

from recstack.errors import ConfigError
from recstack.registry import KIND_TAG, ModelRegistry, log_bundle, metric_tags, start_run

# A models-from-code pyfunc that reads its bundle file: the smallest real "system".
ECHO_MODEL = '''
import mlflow
from mlflow.pyfunc import PythonModel


class Echo(PythonModel):
    def load_context(self, context):
        with open(context.artifacts["bundle"] + "/greeting.txt") as f:
            self.greeting = f.read()

    def predict(self, context, model_input, params=None):
        return model_input.assign(greeting=self.greeting)


mlflow.models.set_model(Echo())
'''


def test_metric_tags_have_five_decimals():
    assert metric_tags({"ndcg_at_10": 0.3125}) == {"valid_ndcg_at_10": "0.31250"}
    assert metric_tags({"auc": 1}, prefix="test_") == {"test_auc": "1.00000"}


def test_log_bundle_registers_the_written_folder_with_kind_metrics_and_tags(settings, tmp_path):
    model_file = tmp_path / "echo_model.py"
    model_file.write_text(ECHO_MODEL)
    example = pd.DataFrame({"x": [1.0]})

    def write(directory: Path) -> None:
        directory.mkdir(parents=True)
        (directory / "greeting.txt").write_text("hello")

    registry = ModelRegistry(settings)
    with start_run(settings, "echo", kind="train"):
        version = log_bundle(
            registry, "echo", write, kind="toy", python_model=model_file,
            signature=infer_signature(example, example.assign(greeting="hello")),
            input_example=example, metrics={"hr_at_10": 0.5},
            tags={"model_type": "echo", "dataset": "none", "n": 3})
    assert version.name == "echo" and version.version == "1" and version.run_id
    assert version.tags == {"model_type": "echo", KIND_TAG: "toy", "dataset": "none",
                            "n": "3", "valid_hr_at_10": "0.50000"}
    assert (registry.download(version) / "greeting.txt").read_text() == "hello"
    loaded = mlflow.pyfunc.load_model("models:/echo/1")
    assert loaded.predict(example)["greeting"].tolist() == ["hello"]


def test_log_bundle_rejects_a_missing_or_conflicting_kind(settings):
    registry = ModelRegistry(settings)
    for kind, tags in (("", {}), ("toy", {"kind": "other"})):
        with pytest.raises(ConfigError) as err:
            log_bundle(registry, "echo", lambda d: None, kind=kind, python_model=Path("x.py"),
                       signature=None, input_example=None, tags=tags)
        assert err.value.field in ("kind", "tags.kind")
