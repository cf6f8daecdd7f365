"""The offline store on Apache Spark (``RECSTACK_FEATURES__OFFLINE_ENGINE=spark``).

The same typed view relation as the DuckDB store, built from Spark DataFrames, and the same
point-in-time rules. The join runs in Spark, not on the driver: the entity rows
and each view's rows are put in one frame per view, ordered by (keys, time) with a view row
before an entity row at the same time, and a window's ``last(..., ignorenulls)`` hands every
entity row the newest view row at or before it. That is one sort per view (no range join,
whose cost grows with each key's history). Times travel as epoch microseconds, so no time
zone can shift a comparison.

Spark runs in the active ``SparkSession`` when the program made one (``spark-submit``, a
notebook on a cluster); otherwise recstack starts ``local[2]`` once per process and reuses it.
Importing this module imports pyspark; ``recstack.features`` imports it only when the settings
choose Spark.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pa_dataset
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from recstack.errors import ConfigError, DataError, NotFoundError
from recstack.features.catalog import RegisteredView
from recstack.features.definitions import load_python_transformation
from recstack.features.offline import (
    CREATED,
    ENTITY_TS,
    ROW,
    TS,
    check_columns,
    connect,
    entity_rows,
    source_sql,
)
from recstack.features.offline_store import (
    JAVA_FIX,
    OfflineStore,
    Row,
    ViewFeatures,
    check_offline_engine,
)

MASTER = "local[2]"
_SQL_TYPES = {"int64": "bigint", "float64": "double", "string": "string", "bool": "boolean"}
_PANDAS_TYPES = {"int64": "int64", "float64": "float64", "string": "object", "bool": "bool"}
_session_lock = threading.Lock()


def col(name: str) -> Column:
    """A column by its exact name (dots and spaces are not paths)."""
    return F.col("`" + name.replace("`", "``") + "`")


def spark_session() -> SparkSession:
    """The active SparkSession, else a ``local[2]`` one started now and reused by later calls.

    Raises:
        ConfigError: no Java, or Spark could not start (the message says why).
    """
    with _session_lock:
        active = SparkSession.getActiveSession()
        if active is None:
            check_offline_engine("spark")  # no Java: say how to install it
            builder = (SparkSession.builder.master(MASTER).appName("recstack-offline-store")
                       .config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false")
                       # A few partitions: the default 200 are 200 tiny tasks on one machine.
                       .config("spark.sql.shuffle.partitions", "4")
                       .config("spark.driver.bindAddress", "127.0.0.1")
                       .config("spark.driver.host", "127.0.0.1"))
            try:
                active = builder.getOrCreate()
            except (PySparkException, OSError, RuntimeError) as exc:
                raise ConfigError(f"Spark did not start: {str(exc).splitlines()[0]}",
                                  field="features.offline_engine", fix=JAVA_FIX) from exc
            active.sparkContext.setLogLevel("ERROR")
        # Sources' naive timestamps are UTC, as on DuckDB.
        active.conf.set("spark.sql.session.timeZone", "UTC")
        # pandas writes nanosecond timestamps, which Spark refuses to read as timestamps; read
        # as integers, ``_source`` turns them back (a session setting, so this affects other
        # Parquet reads in a session the program shares with recstack).
        active.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
        active.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
        return active


class SparkOfflineStore(OfflineStore):
    """Point-in-time training frames and materialisation reads computed by Spark."""

    name = "spark"

    @property
    def spark(self) -> SparkSession:
        return spark_session()

    # -- the view relation -------------------------------------------------------------------

    def typed_frame(self, registered: RegisteredView) -> DataFrame:
        """Keys, ``__ts`` and ``__created`` (epoch microseconds), typed features; rows without
        a key or an event time dropped. Duplicate (keys, event time) rows are kept: each read
        orders them so that the row the DuckDB relation keeps wins (the latest created time,
        then the smallest values)."""
        view = registered.view
        try:
            base = self._transformed(registered)
            columns = {f.name: _duckdb_type(f.dataType) for f in base.schema.fields}
        except PySparkException as exc:
            raise DataError(f"cannot read the source of view {view.name!r}: "
                            f"{str(exc).splitlines()[0]}", field=f"views.{view.name}.source",
                            fix="check the source path and the transformation "
                                "(Spark SQL on this engine)") from exc
        keys = check_columns(registered, columns)
        created = (_micros(view.name, view.created_timestamp_field, columns)
                   if view.created_timestamp_field else F.lit(None).cast("bigint"))
        typed = base.select(
            *[col(k) for k in keys],
            _micros(view.name, view.timestamp_field, columns).alias(TS), created.alias(CREATED),
            *[col(f.name).cast(_SQL_TYPES[f.dtype]).alias(f.name) for f in view.features])
        typed = typed.where(F.col(TS).isNotNull())
        for key in keys:
            typed = typed.where(col(key).isNotNull())
        return typed

    def _transformed(self, registered: RegisteredView) -> DataFrame:
        view = registered.view
        source = self._source(registered)
        if view.transformation_python:
            # A Python transformation is a pandas function: it runs on the driver.
            frame = load_python_transformation(view)(source.toPandas())
            if not isinstance(frame, pd.DataFrame):
                raise ConfigError(f"{view.transformation_python} returned "
                                  f"{type(frame).__name__}, not a DataFrame",
                                  field=f"views.{view.name}.transformation_python",
                                  fix="return a pandas DataFrame")
            return self.spark.createDataFrame(frame)
        if view.transformation_sql:
            name = f"__src_{view.name}_{registered.version}"
            source.createOrReplaceTempView(name)
            return self.spark.sql(f"WITH source AS (SELECT * FROM `{name}`) "
                                  f"{view.transformation_sql}")
        return source

    def _source(self, registered: RegisteredView) -> DataFrame:
        view = registered.view
        source = view.source
        if source is not None and source.kind in {"parquet", "frame", "csv"}:
            path = (self.sources_dir / f"{source.name}.parquet" if source.kind == "frame"
                    else Path(str(source.path)))
            if path.exists() and source.kind == "csv":
                return self.spark.read.csv(str(path), header=True, inferSchema=True)
            if path.exists():
                return _nanos_to_timestamps(self.spark.read.parquet(str(path)), path)
        # A DuckDB table or query (and the errors of a missing source, worded as on DuckDB):
        # read by DuckDB on the driver and handed to Spark as Arrow.
        conn = connect()
        try:
            query = source_sql(conn, registered, self.sources_dir)
            return self.spark.createDataFrame(conn.sql(query).to_arrow_table())
        except duckdb.Error as exc:
            raise DataError(f"cannot read the source of view {view.name!r}: {exc}",
                            field=f"views.{view.name}.source",
                            fix="check the source path/table/query") from exc
        finally:
            conn.close()

    # -- the offline store -------------------------------------------------------------------

    def validate(self, registered: RegisteredView) -> None:
        self.typed_frame(registered).schema  # noqa: B018 - analysing the plan checks it

    def training_frame(self, entity_frame: pd.DataFrame, requests: Sequence[ViewFeatures],
                       timestamp_column: str) -> pd.DataFrame:
        entity = entity_rows(entity_frame, [(r.registered.name, r.registered.join_keys)
                                            for r in requests], timestamp_column)
        names = [n for r in requests for n in r.output_names]
        if entity.empty:  # Spark cannot infer the schema of no rows; nothing to join anyway
            columns = {n: pd.Series([], dtype=_PANDAS_TYPES[r.registered.view.feature(f).dtype])
                       for r in requests for f, n in zip(r.features, r.output_names, strict=True)}
            return pd.concat([entity_frame.copy(), pd.DataFrame(columns, index=entity_frame.index)],
                             axis=1)
        entity[ENTITY_TS] = entity[ENTITY_TS].astype("datetime64[us]").astype("int64")
        try:
            current = self.spark.createDataFrame(entity).withColumn("__kind", F.lit(1))
            for request in requests:
                current = self._as_of(current, request)
            found = current.select(ROW, *[col(n) for n in names]).toPandas()
        except PySparkException as exc:
            raise DataError(f"cannot join the entity frame to the views: "
                            f"{str(exc).splitlines()[0]}", field="entity_frame",
                            fix="give join keys the same type as in the sources") from exc
        # Shuffles do not keep row order: put the rows back in entity order.
        found = found.sort_values(ROW, kind="stable")
        features = found[names].set_index(entity_frame.index)
        return pd.concat([entity_frame.copy(), features], axis=1, copy=False)

    def _as_of(self, current: DataFrame, request: ViewFeatures) -> DataFrame:
        """``current`` (entity rows) plus the requested features of one view as of each row.

        Entity and view rows share one frame, partitioned by the view's keys and ordered by
        time; a view row sorts before an entity row at the same time (a value at exactly t is
        known at t), and among view rows at one time the row the DuckDB relation keeps sorts
        last (created ascending, values descending), so the window's last view row is the
        de-duplicated newest one: one sort per view, no join.
        """
        view = request.registered.view
        frame = self.typed_frame(request.registered)
        types = {f.name: f.dataType for f in frame.schema.fields}
        keys = [(key, f"__k{j}") for j, key in enumerate(request.registered.join_keys)]
        # Entity keys take the view's key types; a key that does not convert fails the join.
        entity = current.select("*", *[col(k).cast(types[k]).alias(a) for k, a in keys])
        ties = [f"__f{j}" for j in range(len(view.features))]
        view_rows = frame.select(
            *[col(k).alias(a) for k, a in keys], F.col(TS).alias(ENTITY_TS),
            F.lit(0).alias("__kind"), F.col(CREATED).alias("__c"),
            *[col(f.name).alias(t) for f, t in zip(view.features, ties, strict=True)],
            F.struct(F.col(TS).alias("__t"), *[col(f) for f in request.features]).alias("__hit"))
        before = (Window.partitionBy(*[F.col(a) for _, a in keys])
                  .orderBy(ENTITY_TS, "__kind", F.col("__c").asc_nulls_first(),
                           *[F.col(t).desc_nulls_first() for t in ties])
                  .rowsBetween(Window.unboundedPreceding, Window.currentRow))
        joined = (entity.unionByName(view_rows, allowMissingColumns=True)
                  .withColumn("__hit", F.last("__hit", ignorenulls=True).over(before))
                  .where(F.col("__kind") == 1))
        fresh = (F.col("__hit").getField("__t") >= F.col(ENTITY_TS) - view.ttl_seconds * 1_000_000
                 if view.ttl_seconds else F.lit(True))
        return joined.select(*[col(c) for c in current.columns], *[
            F.when(fresh, F.col("__hit").getField(feature)).alias(name)
            for feature, name in zip(request.features, request.output_names, strict=True)])

    def latest_rows(self, registered: RegisteredView, start: pd.Timestamp | None,
                    end: pd.Timestamp, batch_size: int) -> Iterator[list[Row]]:
        view = registered.view
        frame = self.typed_frame(registered).where(F.col(TS) <= _us(end))
        if start is not None:
            frame = frame.where(F.col(TS) > _us(start))
        # The newest event per key; at one event time, the row the DuckDB relation keeps.
        newest = Window.partitionBy(*[col(k) for k in registered.join_keys]).orderBy(
            F.col(TS).desc(), F.col(CREATED).desc_nulls_last(),
            *[col(f.name).asc_nulls_last() for f in view.features])
        frame = (frame.withColumn("__rank", F.row_number().over(newest))
                 .where(F.col("__rank") == 1)
                 .select(*[col(k) for k in registered.join_keys], TS, CREATED,
                         *[col(f.name) for f in view.features]))
        batch: list[Row] = []
        try:
            for row in frame.toLocalIterator(prefetchPartitions=True):
                batch.append(tuple(row))
                if len(batch) == batch_size:
                    yield batch
                    batch = []
        except PySparkException as exc:
            raise NotFoundError(f"cannot read view {view.name!r}: {str(exc).splitlines()[0]}",
                                field=view.name, fix="check its source") from exc
        if batch:
            yield batch


def _nanos_to_timestamps(frame: DataFrame, path: Path) -> DataFrame:
    """Nanosecond timestamp columns (read as integers) as timestamps, microsecond precision."""
    schema = pa_dataset.dataset(str(path), format="parquet").schema
    nanos = [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]
    return frame.withColumns({name: F.timestamp_micros(F.floor(col(name) / 1000))
                              for name in nanos})


def _us(stamp: pd.Timestamp) -> int:
    return int(stamp.value // 1000)


def _duckdb_type(kind: T.DataType) -> str:
    """Spark's type as the DuckDB type name ``check_columns`` and ``_micros`` read."""
    names = {T.LongType: "BIGINT", T.IntegerType: "INTEGER", T.ShortType: "SMALLINT",
             T.ByteType: "TINYINT", T.DoubleType: "DOUBLE", T.FloatType: "FLOAT",
             T.DecimalType: "DECIMAL", T.StringType: "VARCHAR", T.BooleanType: "BOOLEAN",
             T.TimestampType: "TIMESTAMP WITH TIME ZONE", T.TimestampNTZType: "TIMESTAMP",
             T.DateType: "DATE"}
    return names.get(type(kind), kind.simpleString().upper())


def _micros(view: str, column: str, columns: dict[str, str]) -> Column:
    """A timestamp column as epoch microseconds (UTC); other types are a DataError."""
    kind = columns[column]
    if kind == "TIMESTAMP WITH TIME ZONE":
        return F.unix_micros(col(column))
    if kind in {"TIMESTAMP", "DATE"}:  # naive: UTC (the session's time zone)
        return F.unix_micros(col(column).cast("timestamp"))
    if kind in {"BIGINT", "INTEGER", "SMALLINT", "TINYINT"}:  # epoch seconds
        return col(column).cast("bigint") * 1_000_000
    raise DataError(f"view {view!r}: timestamp column {column!r} has type {kind}",
                    field=f"views.{view}.{column}",
                    fix="use a TIMESTAMP/DATE column or integer epoch seconds")
