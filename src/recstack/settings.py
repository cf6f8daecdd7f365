"""One typed settings tree for all of recstack.

Values come from defaults, then ``RECSTACK_*`` environment variables (nested fields with a
double underscore: ``RECSTACK_SERVING__PORT=8080``). Nothing else in recstack reads
``os.environ``; code receives a ``Settings`` object (``get_settings()`` builds it lazily).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ByteSize,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from recstack.errors import ConfigError
from recstack.features.config import FeatureStoreSettings
from recstack.llm.config import LLMSettings
from recstack.monitoring.config import MonitoringSettings

SectionT = TypeVar("SectionT", bound=BaseSettings)


class TrackingSettings(BaseModel):
    """MLflow tracking and model registry."""

    uri: str | None = Field(None, description="MLflow tracking URI; default: SQLite under home")
    experiment: str = Field("recstack", description="experiment that training runs go to")


class ServingSettings(BaseModel):
    """The HTTP service."""

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        # The served model moved into each system's section; an old deployment's variable must
        # not be silently ignored.
        if isinstance(data, dict) and "model" in data:
            raise ValueError("RECSTACK_SERVING__MODEL moved: set the system's default model, "
                             "e.g. RECSTACK_SEQUENTIAL__DEFAULT_MODEL=travel-next-item@champion")
        return data

    host: str = Field("127.0.0.1", description="bind address; localhost only by default")
    port: int = Field(8000, ge=1, le=65535)
    alias: str = Field("champion", description="alias used when a model reference names neither "
                                               "an alias nor a version")
    api_key: SecretStr | None = Field(
        None, description="when set, every route but /health needs the header X-API-Key")
    alias_refresh_seconds: float = Field(
        30.0, ge=0, description="how often the service re-reads which version an alias names")
    workers: int | Literal["auto"] = Field(
        1, description="server processes: 1 = one uvicorn process; N > 1 or 'auto' = gunicorn "
                       "with N uvicorn workers ('auto': as many as memory_limit holds)")
    memory_limit: ByteSize | None = Field(
        None, description="memory the server may use, in bytes or '2GiB', '1.5G' (G = 10^9, "
                          "Gi/GiB = 2^30); default: the container's cgroup limit, else the "
                          "machine's memory")
    worker_threads: int = Field(
        1, ge=1, description="OpenMP/BLAS threads per server process (torch, numpy, "
                             "scikit-learn): the service already runs requests side by side "
                             "and in several workers; more threads per request oversubscribe "
                             "the cores. A variable the environment sets itself "
                             "(OMP_NUM_THREADS, ...) wins")

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: Any) -> Any:
        # One clear message instead of pydantic's two (one per member of the union).
        text = str(value).strip().lower()
        if text == "auto":
            return "auto"
        if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
            raise ValueError("workers must be a whole number >= 1 or 'auto'")
        return int(text)

    @field_validator("memory_limit", mode="before")
    @classmethod
    def _memory_limit(cls, value: Any) -> Any:
        # Kubernetes and Docker write binary units without the B ('2Gi'); pydantic wants 'GiB'.
        if isinstance(value, str):
            value = re.sub(r"(?i)([kmgtpe]i)$", r"\1B", value.strip())
            if not re.fullmatch(r"\d+(\.\d+)?\s*[a-zA-Z]*", value):
                raise ValueError("memory_limit must be a number of bytes or a size such as "
                                 "'2GiB', '512MiB' or '1.5G'")
        return value

    @field_validator("memory_limit")
    @classmethod
    def _positive(cls, value: ByteSize | None) -> ByteSize | None:
        if value is not None and value <= 0:
            raise ValueError("memory_limit must be more than 0 bytes")
        return value


class DataSettings(BaseModel):
    """Where datasets are found."""

    shared_dir: Path | None = Field(
        None, description="folder with public datasets (ml-1m/, ml-100k/); default ../shared/data")


class Settings(BaseSettings):
    """Root of the settings tree."""

    # hide_input_in_errors: a bad value may be a DSN or URL with a password in it; only the root
    # model's setting decides what pydantic echoes.
    model_config = SettingsConfigDict(env_prefix="RECSTACK_", env_nested_delimiter="__",
                                      extra="ignore", hide_input_in_errors=True)

    home: Path = Field(Path(".recstack"), description="embedded state: databases, artifacts, data")
    tracking: TrackingSettings = TrackingSettings()
    serving: ServingSettings = ServingSettings()
    data: DataSettings = DataSettings()
    features: FeatureStoreSettings = FeatureStoreSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    llm: LLMSettings = LLMSettings()
    systems: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="overrides of systems' sections by system name; "
        "each system also reads RECSTACK_<SYSTEM>__<FIELD> (see Settings.section)")
    _sections: dict[str, BaseSettings] = PrivateAttr(default_factory=dict)

    @property
    def tracking_uri(self) -> str:
        return self.tracking.uri or f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> Path:
        return (self.home / "artifacts").resolve()

    @property
    def data_home(self) -> Path:
        """Where recstack writes datasets it generates or downloads."""
        return (self.home / "data").resolve()

    @property
    def shared_data_dir(self) -> Path:
        return (self.data.shared_dir or Path.cwd().parent / "shared" / "data").resolve()

    def section(self, name: str, cls: type[SectionT]) -> SectionT:
        """The settings section of system ``name``: ``RECSTACK_<NAME>__<FIELD>`` environment
        variables, overridden by ``systems[name]``; built once per Settings object."""
        cached = self._sections.get(name)
        if not isinstance(cached, cls):
            prefix = f"RECSTACK_{name.upper().replace('-', '_')}__"
            try:
                cached = cls(_env_prefix=prefix, **self.systems.get(name, {}))
            except ValidationError as exc:
                raise _variable_error(exc, prefix, f"see `recstack settings` for the {name} "
                                                   "section") from None
            self._sections[name] = cached
        return cached

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use; a bad variable is a ConfigError naming it
    (the CLI and the service print it without a traceback, and without the value)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise _variable_error(exc, "RECSTACK_", "correct or unset that environment variable "
                                                "(see `recstack settings`)") from None


def _variable_error(exc: ValidationError, prefix: str, fix: str) -> ConfigError:
    """The first problem of a settings validation error, naming its environment variable
    (without the value: it may be a secret)."""
    first = exc.errors()[0]
    where = "__".join(str(p) for p in first["loc"] if not str(p).startswith("function-"))
    return ConfigError(first["msg"], field=f"{prefix}{where.upper()}", fix=fix)
