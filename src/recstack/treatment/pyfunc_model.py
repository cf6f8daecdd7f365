"""Models-from-code entry point: MLflow runs this file when it loads a treatment model.

Logging a file path instead of a pickled object means MLflow itself unpickles nothing.
"""

import mlflow

from recstack.treatment.pyfunc import TreatmentPyfunc

mlflow.models.set_model(TreatmentPyfunc())
