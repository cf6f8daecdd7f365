"""Models-from-code entry point: MLflow runs this file when it loads a recstack recommender.

Logging a file path instead of a pickled object means nothing is unpickled at load time.
"""

import mlflow

from recstack.sequential.pyfunc import RecommenderPyfunc

mlflow.models.set_model(RecommenderPyfunc())
