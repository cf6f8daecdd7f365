"""Models-from-code entry point: MLflow runs this file when it loads a recstack NLU model."""

import mlflow

from recstack.nlu.pyfunc import NLUPyfunc

mlflow.models.set_model(NLUPyfunc())
