"""The NLU models by name: one plugin table, so settings and the CLI name a model, never a path.

Entries point at ``module:Class`` so that listing the names imports no model (the CRF needs
kiwipiepy and sklearn-crfsuite; the encoder needs torch).
"""

from __future__ import annotations

from typing import Any

from recstack.plugins import PluginTable
from recstack.system import resolve

_MODELS: PluginTable[str] = PluginTable("NLU model", field="model")
_MODELS.add("rules", "recstack.nlu.rules:RulesNLU")
_MODELS.add("crf", "recstack.nlu.crf:CRFNLU")
_MODELS.add("joint-e5", "recstack.nlu.joint:JointEncoderNLU")


def nlu_models() -> list[str]:
    return _MODELS.names()


def nlu_model_class(name: str) -> Any:
    """The class registered as ``name``; an unknown name is an error listing the known ones."""
    return resolve(_MODELS.get(name), field="model")


def register_nlu_model(name: str, target: str) -> None:
    """Add a model: ``register_nlu_model("joint-e5", "recstack.nlu.joint:JointEncoderNLU")``."""
    _MODELS.add(name, target)
