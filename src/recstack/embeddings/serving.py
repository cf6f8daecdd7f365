"""Loaded "viewed together" bundles for the service, keyed by version.

Aliases are re-resolved every ``serving.alias_refresh_seconds``, so promoting a new champion is
picked up without a restart; each version is downloaded and loaded once.
"""

from __future__ import annotations

import threading
import time

from recstack.embeddings.bundle import SimilarItemsBundle
from recstack.registry.models import ModelRegistry, ModelVersionInfo, parse_model_ref
from recstack.settings import Settings

DEFAULT_MODEL_REF = "travel-similar-items@champion"


class SimilarItemsCache:
    """Thread-safe cache of bundles by (name, version) and of alias resolutions by ref."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._registry: ModelRegistry | None = None
        self._resolved: dict[str, tuple[float, ModelVersionInfo]] = {}
        self._bundles: dict[tuple[str, str], SimilarItemsBundle] = {}

    @property
    def registry(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = ModelRegistry(self.settings)
        return self._registry

    def get(self, ref: str | None) -> tuple[SimilarItemsBundle, ModelVersionInfo, str | None]:
        """The bundle for ``ref`` (default :data:`DEFAULT_MODEL_REF`), its version and alias."""
        ref = ref or DEFAULT_MODEL_REF
        _, alias, _ = parse_model_ref(ref, self.settings.serving.alias)
        with self._lock:
            cached = self._resolved.get(ref)
            max_age = self.settings.serving.alias_refresh_seconds
            if cached is not None and time.monotonic() - cached[0] < max_age:
                info = cached[1]
            else:
                info = self.registry.resolve(ref)
                self._resolved[ref] = (time.monotonic(), info)
            key = (info.name, info.version)
            if key not in self._bundles:
                self._bundles[key] = SimilarItemsBundle.load(self.registry.download(info))
            return self._bundles[key], info, alias
