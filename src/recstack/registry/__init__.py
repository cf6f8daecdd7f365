"""MLflow tracking and the model registry (versions addressed by alias)."""

from recstack.registry.bundles import KIND_TAG, log_bundle, metric_tags
from recstack.registry.models import ModelRegistry, ModelVersionInfo, parse_model_ref
from recstack.registry.tracking import configure_mlflow, start_run

__all__ = ["KIND_TAG", "ModelRegistry", "ModelVersionInfo", "configure_mlflow", "log_bundle",
           "metric_tags", "parse_model_ref", "start_run"]
