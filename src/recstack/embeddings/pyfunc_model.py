"""Models-from-code entry point: MLflow runs this file when it loads a "viewed together" model.

Logging a file path instead of a pickled object means nothing is unpickled at load time.
"""

import mlflow

from recstack.embeddings.pyfunc import SimilarItemsPyfunc

mlflow.models.set_model(SimilarItemsPyfunc())
