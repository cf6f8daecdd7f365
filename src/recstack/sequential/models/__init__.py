"""Registered next-item models; importing this package registers them all.

Baselines are plain estimators; the neural models are one file each (``Config`` dataclass plus
``nn.Module``) wrapped by ``register_neural``, and their variants are presets of the same file.
"""

from recstack.sequential.models.bert4rec import PRESETS as BERT4REC_PRESETS
from recstack.sequential.models.bert4rec import BERT4RecConfig, BERT4RecModel
from recstack.sequential.models.deepfm import DeepFMConfig, DeepFMModel
from recstack.sequential.models.itemknn import ItemKNNConfig, ItemKNNRecommender
from recstack.sequential.models.ncf import NCFConfig, NCFModel
from recstack.sequential.models.popularity import PopularityConfig, PopularityRecommender
from recstack.sequential.models.sasrec import PRESETS as SASREC_PRESETS
from recstack.sequential.models.sasrec import SASRecConfig, SASRecModel
from recstack.sequential.neural import register_neural

register_neural("sasrec", SASRecModel, SASRecConfig)
# BERT4Rec learns slowly; on short CPU budgets a higher learning rate is what gets it going.
_BERT4REC_TRAINING = {"lr": 0.003}
register_neural("bert4rec", BERT4RecModel, BERT4RecConfig, preset=_BERT4REC_TRAINING)
# The bag-of-history baselines take ~47 large steps an epoch; lr 1e-3 stalls at popularity.
register_neural("ncf", NCFModel, NCFConfig, preset={"lr": 0.01})
register_neural("deepfm", DeepFMModel, DeepFMConfig, preset={"lr": 0.01})
for _name, _preset in SASREC_PRESETS.items():
    register_neural(_name, SASRecModel, SASRecConfig, preset=_preset)
for _name, _preset in BERT4REC_PRESETS.items():
    register_neural(_name, BERT4RecModel, BERT4RecConfig, preset={**_BERT4REC_TRAINING, **_preset})

__all__ = [
    "BERT4RecConfig",
    "BERT4RecModel",
    "DeepFMConfig",
    "DeepFMModel",
    "ItemKNNConfig",
    "ItemKNNRecommender",
    "NCFConfig",
    "NCFModel",
    "PopularityConfig",
    "PopularityRecommender",
    "SASRecConfig",
    "SASRecModel",
]
