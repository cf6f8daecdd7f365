"""One typed settings tree for all of recstack.

Values come from defaults, then ``RECSTACK_*`` environment variables (nested fields with a
double underscore: ``RECSTACK_SERVING__PORT=8080``). Nothing else in recstack reads
``os.environ``; code receives a ``Settings`` object (``get_settings()`` builds it lazily).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from recstack.features.config import FeatureStoreSettings
from recstack.monitoring.config import MonitoringSettings


class TrackingSettings(BaseModel):
    """MLflow tracking and model registry."""

    uri: str | None = Field(None, description="MLflow tracking URI; default: SQLite under home")
    experiment: str = Field("recstack", description="experiment that training runs go to")


class ServingSettings(BaseModel):
    """The HTTP service."""

    host: str = Field("127.0.0.1", description="bind address; localhost only by default")
    port: int = Field(8000, ge=1, le=65535)
    model: str = Field("travel-next-item", description="registered model served by default")
    alias: str = Field("champion", description="alias of the version to serve")
    alias_refresh_seconds: float = Field(
        30.0, ge=0, description="how often the service re-reads which version an alias names")


class DataSettings(BaseModel):
    """Where datasets are found."""

    shared_dir: Path | None = Field(
        None, description="folder with public datasets (ml-1m/, ml-100k/); default ../shared/data")


class Settings(BaseSettings):
    """Root of the settings tree."""

    model_config = SettingsConfigDict(env_prefix="RECSTACK_", env_nested_delimiter="__",
                                      extra="ignore")

    home: Path = Field(Path(".recstack"), description="embedded state: databases, artifacts, data")
    tracking: TrackingSettings = TrackingSettings()
    serving: ServingSettings = ServingSettings()
    data: DataSettings = DataSettings()
    features: FeatureStoreSettings = FeatureStoreSettings()
    monitoring: MonitoringSettings = MonitoringSettings()

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

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings()
