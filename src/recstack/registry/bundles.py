"""Log a system's bundle folder to MLflow with its metrics, and register it as a new version.

Every system registers the same way: write the bundle into a temporary folder, log it as a
models-from-code pyfunc in the active run, and tag the new version with what ``recstack models
list``, serving and monitoring read (``model_type``, the system ``kind``, validation metrics,
dataset). Systems pass what differs (the writer, their pyfunc file, signature and example).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from recstack.errors import ConfigError
from recstack.registry.models import ModelRegistry, ModelVersionInfo

__all__ = ["KIND_TAG", "log_bundle", "metric_tags"]

KIND_TAG = "kind"
"""Version tag naming the system whose loader serves the version (sequential, treatment, ...)."""


def metric_tags(metrics: Mapping[str, float], prefix: str = "valid_") -> dict[str, str]:
    """Metrics as version tags (``valid_ndcg@10: "0.31250"``): the registry lists tags, not runs."""
    return {f"{prefix}{name}": f"{value:.5f}" for name, value in metrics.items()}


def log_bundle(
    registry: ModelRegistry,
    name: str,
    write_bundle: Callable[[Path], Any],
    *,
    kind: str,
    python_model: Path,
    signature: Any,
    input_example: Any,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, Any] | None = None,
    metric_prefix: str = "valid_",
) -> ModelVersionInfo:
    """Write a bundle, log it to the active MLflow run and register it as a version of ``name``.

    Args:
        registry: where the version is registered.
        name: the registered model (use case), e.g. ``travel-next-item``.
        write_bundle: writes the bundle into the (not yet existing) folder it is given; the
            folder is temporary, MLflow keeps the logged copy.
        kind: the system that serves the version (``"sequential"``, ``"embeddings"``,
            ``"treatment"``), stored as version tag ``kind`` beside ``model_type``.
        python_model: the system's models-from-code pyfunc file (no pickling).
        signature: MLflow model signature of that pyfunc.
        input_example: a small input MLflow stores with the model.
        metrics: validation metrics, added as tags ``<metric_prefix><name>`` with 5 decimals.
        tags: other version tags (``model_type``, ``dataset``, ...); values become text.
        metric_prefix: prefix of the metric tags.

    Returns:
        The new version.

    Raises:
        ConfigError: ``kind`` is empty, or ``tags`` carry a different ``kind``.
    """
    if not kind:
        raise ConfigError("a bundle needs the kind of system that serves it", field="kind",
                          fix="pass kind='sequential', 'embeddings', 'treatment', ...")
    version_tags = {k: str(v) for k, v in (tags or {}).items()}
    if version_tags.get(KIND_TAG, kind) != kind:
        raise ConfigError(f"tags say kind={version_tags[KIND_TAG]!r} but kind={kind!r}",
                          field="tags.kind", fix="leave 'kind' out of tags")
    version_tags[KIND_TAG] = kind
    version_tags.update(metric_tags(metrics or {}, metric_prefix))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "bundle"
        write_bundle(directory)
        return registry.log_and_register(name, directory, python_model, signature,
                                         input_example, version_tags)
