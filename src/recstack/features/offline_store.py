"""The offline store interface, its DuckDB implementation, and the engine the settings choose.

An offline store does three things for ``FeatureStore``: check a view against its source
(``apply``), point-in-time join an entity frame with views (training frames), and read the
newest row per key in an event-time window (materialisation). Every engine passes the same
contract suite (``tests/features/test_offline_contract.py``), so switching
``RECSTACK_FEATURES__OFFLINE_ENGINE`` changes where the work runs, never the values.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, get_args

import pandas as pd

from recstack.errors import ConfigError, missing_extra
from recstack.features.catalog import RegisteredView
from recstack.features.config import OfflineEngine
from recstack.features.offline import (
    FeatureRequest,
    connect,
    latest_rows,
    training_frame,
    view_relation,
)

# Engine name -> "module:class"; imported on first use, so that choosing DuckDB never imports
# pyspark (and a missing pyspark is an error only for whoever chose Spark).
_ENGINES = {"duckdb": "recstack.features.offline_store:DuckDBOfflineStore",
            "spark": "recstack.features.spark:SparkOfflineStore"}

Row = tuple[Any, ...]
JAVA_FIX = ("install Java 17 or 21 (Debian: apt-get install openjdk-17-jre-headless) or point "
            "JAVA_HOME at one; or set RECSTACK_FEATURES__OFFLINE_ENGINE=duckdb")


@dataclass(frozen=True)
class ViewFeatures:
    """Features to read from one view version, and the column names they get."""

    registered: RegisteredView
    features: list[str]
    output_names: list[str]


class OfflineStore(ABC):
    """Reads feature views from their sources, as of points in time.

    Args:
        sources_dir: where ``{kind: frame}`` sources are stored (``<feature home>/sources``).
    """

    name: ClassVar[str]

    def __init__(self, sources_dir: Path):
        self.sources_dir = sources_dir

    @abstractmethod
    def validate(self, registered: RegisteredView) -> None:
        """Read the view's source through its transformation and check keys, timestamps and
        declared types; a problem is a DataError/ConfigError naming the view's field."""

    @abstractmethod
    def training_frame(self, entity_frame: pd.DataFrame, requests: Sequence[ViewFeatures],
                       timestamp_column: str) -> pd.DataFrame:
        """``entity_frame`` (index, order and columns kept) plus one column per feature.

        Per view, a row gets the values of the newest row with event time at or before the
        row's timestamp (ties: the latest created time, then the smallest values), missing
        when there is none or it is older than the view's TTL. int64 features with a missing
        value become float64 (NaN); string and bool features with one become objects (None).
        """

    @abstractmethod
    def latest_rows(self, registered: RegisteredView, start: pd.Timestamp | None,
                    end: pd.Timestamp, batch_size: int) -> Iterator[list[Row]]:
        """Batches of the newest row per key with ``start < event time <= end`` (naive UTC).

        Each row: the join keys, event and created time as epoch microseconds (created None
        when the view has none), then the view's features in declared order.
        """

    def close(self) -> None:  # noqa: B027 - most engines hold nothing between calls
        """Release what the store holds; it is not used afterwards."""


def offline_engines() -> list[str]:
    """The engine names ``RECSTACK_FEATURES__OFFLINE_ENGINE`` accepts."""
    return sorted(get_args(OfflineEngine))


def create_offline_store(engine: str, sources_dir: Path) -> OfflineStore:
    """The offline store of ``engine``; a missing optional dependency names its extra."""
    if engine not in _ENGINES:
        raise ConfigError(f"unknown offline engine {engine!r}",
                          field="features.offline_engine",
                          fix=f"use one of {offline_engines()}")
    module, name = _ENGINES[engine].split(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        error = missing_extra(exc)
        if error is None:
            raise
        raise error from exc
    store: OfflineStore = cls(sources_dir)
    return store


def java_executable() -> str | None:
    """The ``java`` Spark would start: ``$JAVA_HOME/bin/java``, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        return str(java) if java.is_file() else None
    return shutil.which("java")


def check_offline_engine(engine: str) -> None:
    """Fail early, naming the fix, when the chosen engine cannot run here; starts nothing.

    For a pipeline's pre-flight check: Spark needs pyspark (extra ``spark``) and Java.
    """
    if engine != "spark":
        return
    if importlib.util.find_spec("pyspark") is None:
        raise ConfigError("the Spark offline store needs pyspark, which is not installed",
                          field="extra 'spark'", fix="pip install -e '.[spark]' (or set "
                                                     "RECSTACK_FEATURES__OFFLINE_ENGINE=duckdb)")
    if java_executable() is None:
        raise ConfigError("the Spark offline store needs Java, and none was found "
                          f"(JAVA_HOME={os.environ.get('JAVA_HOME')!r}, no java on PATH)",
                          field="features.offline_engine", fix=JAVA_FIX)


class DuckDBOfflineStore(OfflineStore):
    """In-process DuckDB over the sources: the default, nothing to start.

    Each call opens its own in-memory connection (milliseconds), so the store holds nothing
    between calls and is safe to share.
    """

    name = "duckdb"

    def validate(self, registered: RegisteredView) -> None:
        conn = connect()
        try:
            view_relation(conn, registered, self.sources_dir)
        finally:
            conn.close()

    def training_frame(self, entity_frame: pd.DataFrame, requests: Sequence[ViewFeatures],
                       timestamp_column: str) -> pd.DataFrame:
        conn = connect()
        try:
            relations = [FeatureRequest(view_relation(conn, r.registered, self.sources_dir),
                                        r.features, r.output_names) for r in requests]
            return training_frame(conn, entity_frame, relations, timestamp_column)
        finally:
            conn.close()

    def latest_rows(self, registered: RegisteredView, start: pd.Timestamp | None,
                    end: pd.Timestamp, batch_size: int) -> Iterator[list[Row]]:
        conn = connect()
        try:
            cursor = latest_rows(conn, view_relation(conn, registered, self.sources_dir),
                                 start, end)
            while rows := cursor.fetchmany(batch_size):
                yield rows
        finally:
            conn.close()
