"""Models-from-code entry point: MLflow runs this file when it loads a recstack matcher."""

import mlflow

from recstack.matching.pyfunc import MatchingPyfunc

mlflow.models.set_model(MatchingPyfunc())
