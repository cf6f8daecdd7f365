"""MLflow tracking and the model registry (versions addressed by alias)."""

from recstack.registry.models import ModelRegistry, ModelVersionInfo, parse_model_ref
from recstack.registry.tracking import configure_mlflow, start_run

__all__ = ["ModelRegistry", "ModelVersionInfo", "configure_mlflow", "parse_model_ref",
           "start_run"]
