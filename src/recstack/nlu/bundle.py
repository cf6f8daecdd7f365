"""A trained NLU model as a folder: ``nlu.json`` (model type, labels, provenance) + ``model/``.

A ``joint-e5`` bundle may also carry its ONNX export (``onnx/`` fp32, ``onnx-int8/`` int8; see
:mod:`recstack.nlu.export`): the service, ``recstack nlu parse`` and the MLflow pyfunc flavour
all load this folder, with the runtime ``RECSTACK_NLU__RUNTIME`` names; the ONNX runtimes load
without torch.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recstack.errors import ConfigError, DataError
from recstack.monitoring.reference import write_reference
from recstack.nlu.models import nlu_model_class
from recstack.nlu.schema import NLUModel, Parse

BUNDLE_FILE = "nlu.json"
RUNTIMES = ("torch", "onnx", "onnx-int8")  # torch: model/; the others: the folder of that name
EXPORTABLE = ("joint-e5",)  # model types that have an ONNX export
log = logging.getLogger(__name__)


def configured_runtime(settings: Any = None) -> tuple[str, int]:
    """The NLU settings' ``runtime`` and ``runtime_threads`` (of ``settings``, else the
    process settings)."""
    from recstack.nlu.system import SPEC

    if settings is None:
        from recstack.settings import get_settings

        settings = get_settings()
    section = SPEC.settings_of(settings)
    return str(section.runtime), int(section.runtime_threads)


def exports_for(model_type: str, runtime: str) -> tuple[str, ...]:
    """The ONNX exports a bundle of ``model_type`` needs to serve with ``runtime``."""
    return (runtime,) if model_type in EXPORTABLE and runtime != "torch" else ()


def monitored_features(parse: Parse) -> dict[str, Any]:
    """What the prediction log records of a parse, and the reference records of validation
    parses: monitoring compares their distributions (``prediction`` is the intent)."""
    return {"n_chars": len(parse.text), "n_entities": len(parse.entities)}


@dataclass
class NLUBundle:
    model: NLUModel
    model_type: str
    info: dict[str, Any] = field(default_factory=dict)
    # Validation parses (features, predicted intent, true intent): monitoring's drift reference.
    reference: pd.DataFrame | None = None
    # ONNX runtimes ("onnx", "onnx-int8") exported beside model/ when saved (joint-e5 only).
    exports: tuple[str, ...] = ()
    # What parses: "torch" is the model's own class; set by load.
    runtime: str = "torch"

    def parse(self, texts: list[str]) -> list[Parse]:
        return self.model.parse(texts)

    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        (directory / "model").mkdir(parents=True, exist_ok=True)
        self.model.save(directory / "model")
        runtimes = ["torch"]
        for runtime in self.exports:
            if runtime not in RUNTIMES[1:] or self.model_type not in EXPORTABLE:
                raise ConfigError(f"cannot export a {self.model_type} model for {runtime!r}",
                                  field="runtime", fix=f"ONNX runtimes {RUNTIMES[1:]} exist "
                                                       f"for {EXPORTABLE} only")
            from recstack.nlu.export import export_onnx  # torch: only when registering

            export_onnx(self.model, directory / runtime, quantize=runtime == "onnx-int8")
            runtimes.append(runtime)
        if self.reference is not None:
            write_reference(self.reference, directory)
        (directory / BUNDLE_FILE).write_text(json.dumps(
            {"model_type": self.model_type, "info": self.info, "runtimes": runtimes},
            ensure_ascii=False, indent=1))
        return directory

    @classmethod
    def load(cls, directory: Path, *, runtime: str | None = None,
             threads: int | None = None) -> NLUBundle:
        """Reads a bundle for parsing.

        Args:
            directory: the bundle folder.
            runtime: ``torch``, ``onnx`` or ``onnx-int8``; default the NLU settings' ``runtime``
                (``RECSTACK_NLU__RUNTIME``). Only joint-e5 has ONNX runtimes; other models, and
                a joint-e5 bundle registered without that runtime's export, load their own
                class (a warning says so for joint-e5).
            threads: ONNX Runtime intra-op threads; default the settings' ``runtime_threads``.
        """
        directory = Path(directory)
        path = directory / BUNDLE_FILE
        if not path.is_file():
            raise DataError(f"{directory} is not an NLU bundle (no {BUNDLE_FILE})",
                            field="model", fix="name a model registered by `recstack nlu train`")
        meta = json.loads(path.read_text())
        model_type = meta["model_type"]
        if runtime is not None and runtime not in RUNTIMES:
            raise ConfigError(f"unknown NLU runtime {runtime!r}", field="runtime",
                              fix=f"use one of {', '.join(RUNTIMES)}")
        info = meta.get("info", {})
        if model_type in EXPORTABLE and (runtime is None or threads is None):
            # Settings are read only for a model that has runtimes: rules and CRF never need them.
            configured, configured_threads = configured_runtime()
            runtime = runtime or configured
            threads = threads or configured_threads
        if model_type in EXPORTABLE and runtime is not None and runtime != "torch":
            if (directory / runtime / "model.onnx").is_file():
                from recstack.nlu.onnx_runtime import OnnxJointNLU

                onnx_model = OnnxJointNLU.load(directory / runtime, threads=threads or 1)
                return cls(model=onnx_model, model_type=model_type, info=info,
                           runtime=runtime)
            log.warning("the %s bundle at %s has no %s export (registered with runtimes %s): "
                        "serving it with torch; retrain with RECSTACK_NLU__RUNTIME=%s to export "
                        "it", model_type, directory, runtime, meta.get("runtimes", ["torch"]),
                        runtime)
        model = nlu_model_class(model_type).load(directory / "model")
        return cls(model=model, model_type=model_type, info=info)
