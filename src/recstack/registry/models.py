"""The model registry: versions of named models, addressed by alias (champion, challenger).

A registered model is a use case (``travel-next-item``); its versions are candidate models of
any type. Serving loads ``NAME@ALIAS`` (or ``NAME/VERSION``); promotion moves an alias.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recstack.errors import DataError, NotFoundError
from recstack.registry.tracking import configure_mlflow
from recstack.settings import Settings

log = logging.getLogger(__name__)

_REF = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)(?:@(?P<alias>[A-Za-z0-9_\-]+)|/(?P<version>\d+))?$")
# mlflow's own dependency list would be inferred by importing everything (slow); state it.
PIP_REQUIREMENTS = ["recstack", "mlflow==3.17.2", "numpy", "pandas", "scipy", "pyarrow"]


@dataclass
class ModelVersionInfo:
    name: str
    version: str
    aliases: list[str]
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)
    created: int = 0

    @property
    def model_type(self) -> str:
        return self.tags.get("model_type", "?")


def parse_model_ref(ref: str,
                    default_alias: str = "champion") -> tuple[str, str | None, str | None]:
    """``name@alias`` / ``name/3`` / ``name`` → (name, alias, version)."""
    match = _REF.match(ref.strip())
    if not match:
        raise DataError(f"{ref!r} is not a model reference", field="model",
                        fix="write NAME, NAME@ALIAS or NAME/VERSION, "
                        "e.g. travel-next-item@champion")
    alias, version = match["alias"], match["version"]
    if alias is None and version is None:
        alias = default_alias
    return match["name"], alias, version


class ModelRegistry:
    """Register, list, promote and fetch model versions in the configured MLflow store."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = configure_mlflow(settings)

    def log_and_register(self, name: str, artifact_dir: Path, python_model: Path,
                         signature: Any, input_example: Any,
                         tags: dict[str, str]) -> ModelVersionInfo:
        """Log ``artifact_dir`` as a pyfunc model in the active run and register a new version.

        ``python_model`` is a models-from-code file (no pickling); the version gets ``tags``.
        """
        import mlflow
        from mlflow.exceptions import MlflowException

        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(python_model), artifacts={"bundle": str(artifact_dir)},
            pip_requirements=PIP_REQUIREMENTS, signature=signature, input_example=input_example)
        with contextlib.suppress(MlflowException):  # already registered: add a version
            self.client.create_registered_model(name)
        run = mlflow.active_run()
        mv = self.client.create_model_version(
            name, source=info.model_uri, run_id=run.info.run_id if run else None,
            tags={k: str(v) for k, v in tags.items()}, model_id=info.model_id)
        return self.get(name, version=str(mv.version))

    def get(self, name: str, *, alias: str | None = None,
            version: str | None = None) -> ModelVersionInfo:
        from mlflow.exceptions import MlflowException

        try:
            if alias is not None:
                mv = self.client.get_model_version_by_alias(name, alias)
            else:
                mv = self.client.get_model_version(name, str(version))
        except MlflowException:
            known = ", ".join(m.name for m in self.client.search_registered_models()) or "none yet"
            what = f"alias {alias!r}" if alias is not None else f"version {version}"
            raise NotFoundError(f"model {name!r} has no {what}", field="model",
                                fix=f"registered models: {known}; see `recstack models list`"
                                ) from None
        return _info(mv)

    def resolve(self, ref: str) -> ModelVersionInfo:
        name, alias, version = parse_model_ref(ref, self.settings.serving.alias)
        return self.get(name, alias=alias, version=version)

    def list(self, name: str | None = None) -> list[ModelVersionInfo]:
        query = f"name = '{name}'" if name else None
        versions = [_info(mv) for mv in self.client.search_model_versions(query)]
        # search_model_versions leaves ``aliases`` empty: read them from each registered model.
        aliases: dict[tuple[str, str], list[str]] = {}
        for model_name in {v.name for v in versions}:
            model = self.client.get_registered_model(model_name)
            for alias, version in (model.aliases or {}).items():
                aliases.setdefault((model_name, str(version)), []).append(alias)
        for v in versions:
            v.aliases = sorted(set(v.aliases) | set(aliases.get((v.name, v.version), [])))
        return sorted(versions, key=lambda v: (v.name, int(v.version)))

    def promote(self, name: str, version: str, alias: str = "champion") -> ModelVersionInfo:
        """Point ``alias`` at ``version`` (it leaves whichever version held it before)."""
        self.get(name, version=version)  # clear error for an unknown name or version
        self.client.set_registered_model_alias(name, alias, str(version))
        log.info("%s@%s -> version %s", name, alias, version)
        return self.get(name, version=version)

    def promote_best(self, name: str, metric: str, *, higher_is_better: bool = True,
                     versions: Collection[str] | None = None
                     ) -> tuple[ModelVersionInfo, ModelVersionInfo | None]:
        """Make the best version by the ``metric`` tag ``champion`` and the runner-up
        ``challenger`` (among ``versions`` if given); returns both.

        Pass a validation metric (``valid_ndcg_at_10``): promoting on test numbers would let
        the test split steer selection.
        """
        candidates = [v for v in self.list(name)
                      if versions is None or v.version in versions]
        scored = []
        for v in candidates:
            try:
                scored.append((float(v.tags[metric]), v))
            except (KeyError, ValueError):
                continue
        if not scored:
            raise NotFoundError(f"no version of {name!r} has the metric {metric!r}",
                                field="metric", fix="name a metric the versions were tagged "
                                "with (see `recstack models list`)")
        # Ties go to the newer version.
        scored.sort(key=lambda s: (s[0] if higher_is_better else -s[0], int(s[1].version)),
                    reverse=True)
        champion = self.promote(name, scored[0][1].version, "champion")
        challenger = (self.promote(name, scored[1][1].version, "challenger")
                      if len(scored) > 1 else None)
        return champion, challenger

    def download(self, info: ModelVersionInfo) -> Path:
        """Local copy of a version's ``bundle`` artifact, cached per version under home."""
        import mlflow.artifacts

        target = self.settings.home.resolve() / "cache" / "models" / info.name / info.version
        bundle = target / "model" / "artifacts" / "bundle"
        if not bundle.exists():
            target.mkdir(parents=True, exist_ok=True)
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{info.name}/{info.version}", dst_path=str(target / "model"))
        return bundle


def _info(mv: Any) -> ModelVersionInfo:
    return ModelVersionInfo(name=mv.name, version=str(mv.version), aliases=list(mv.aliases or []),
                            run_id=mv.run_id, tags=dict(mv.tags or {}),
                            created=int(mv.creation_timestamp or 0))
