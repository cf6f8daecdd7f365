"""``FeatureStore``: apply definitions, build training frames, materialise, read online.

Training and serving read the same typed view relation (``offline.view_relation`` on DuckDB,
its twin on Spark), so the values a model trains on are the values it is served with.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.progress import Progress

from recstack.errors import ConfigError, DataError
from recstack.features.catalog import FeatureCatalog, RegisteredView, ViewChange
from recstack.features.config import SQLiteOnlineStoreConfig
from recstack.features.definitions import Definitions, Source, load_definitions
from recstack.features.offline_store import OfflineStore, ViewFeatures, create_offline_store
from recstack.features.online import (
    NO_CREATED,
    OnlineRecord,
    OnlineStore,
    entity_key,
    online_store_class,
)
from recstack.jobs import ResumableJob

if TYPE_CHECKING:
    from recstack.settings import Settings

_REF = re.compile(r"^(?P<view>[A-Za-z_]\w*)(?:@(?P<version>[0-9a-f]+))?:(?P<feature>[A-Za-z_]\w*)$")
_MATERIALIZE_BATCH = 20_000
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureRef:
    """``view[@version]:feature`` resolved against the catalog."""

    registered: RegisteredView
    feature: str

    @property
    def resolved(self) -> str:
        """The exact reference, version included: what a served vector is logged with."""
        return f"{self.registered.table}:{self.feature}"


@dataclass(frozen=True)
class OnlineFeatures:
    """Online feature values: one dict per requested entity, in request order."""

    features: list[str]  # resolved references, ``view@version:feature``
    rows: list[dict[str, Any]]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


@dataclass(frozen=True)
class _OnlinePlan:
    names: list[str]
    resolved: list[str]
    groups: list[tuple[RegisteredView, list[tuple[str, str]]]]  # (view, [(feature, name)])


def feature_home(settings: Settings) -> Path:
    """Where the catalog, managed sources and the SQLite online store live."""
    return settings.features.home or settings.home / "features"


def catalog_path(home: Path) -> Path:
    """``<home>/catalog.db``; a home created before the catalog's rename keeps ``registry.db``."""
    legacy = home / "registry.db"
    if legacy.is_file() and not (home / "catalog.db").exists():
        return legacy  # reading it in place loses nothing; a rename could race another process
    return home / "catalog.db"


def create_online_store(settings: Settings) -> OnlineStore:
    """The backend that ``settings.features.online`` configures (its ``type`` names it)."""
    config = settings.features.online
    if isinstance(config, SQLiteOnlineStoreConfig) and config.path is None:
        config = config.model_copy(update={"path": feature_home(settings) / "online.db"})
    return online_store_class(config.type)(config)  # type: ignore[call-arg]


class FeatureStore:
    """The feature store of one recstack home.

    Args:
        settings: ``settings.features`` picks the online backend and the home.
        online_store: overrides the backend the settings name (tests, benchmarks).
        offline_store: overrides ``settings.features.offline_engine``.
    """

    def __init__(self, settings: Settings, online_store: OnlineStore | None = None,
                 offline_store: OfflineStore | None = None):
        self.settings = settings
        self.home = feature_home(settings)
        self.catalog = FeatureCatalog(catalog_path(self.home))
        self.sources_dir = self.home / "sources"
        self._online = online_store
        self._offline = offline_store
        # Serving resolves feature names on every request: keep the catalog in memory and
        # re-read it every few seconds (and after our own apply) rather than per request.
        self._cache_loaded_at = -float("inf")
        self._cache: dict[str, list[RegisteredView]] = {}
        self._resolved: dict[tuple[str, ...], list[FeatureRef]] = {}
        self._plans: dict[tuple[str, ...], _OnlinePlan] = {}

    @property
    def online_store(self) -> OnlineStore:
        if self._online is None:
            self._online = create_online_store(self.settings)
        return self._online

    @property
    def offline_store(self) -> OfflineStore:
        """The engine ``settings.features.offline_engine`` names, created on first use."""
        if self._offline is None:
            self._offline = create_offline_store(self.settings.features.offline_engine,
                                                 self.sources_dir)
        return self._offline

    def close(self) -> None:
        if self._online is not None:
            self._online.close()
        if self._offline is not None:
            self._offline.close()

    # -- definitions -------------------------------------------------------------------------

    def write_source(self, name: str, frame: pd.DataFrame) -> Source:
        """Store a pandas frame as a managed source (``{kind: frame, name: NAME}``)."""
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise ConfigError(f"source name {name!r} is not an identifier", field="name",
                              fix="use letters, digits and underscores")
        self.sources_dir.mkdir(parents=True, exist_ok=True)
        path = self.sources_dir / f"{name}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)  # readers never see a half-written file
        return Source(kind="frame", name=name)

    def apply(self, definitions: Definitions | str | Path) -> list[ViewChange]:
        """Validate definitions against their sources, then register them in one transaction.

        Applying the same definitions again changes nothing.
        """
        definitions = self._definitions(definitions)
        for change in self.catalog.diff(definitions):
            if change.status in {"added", "changed"}:
                view = next(v for v in definitions.views if v.name == change.name)
                entities = definitions.entity_map()
                keys = [k for e in view.entities for k in entities[e].join_keys]
                candidate = RegisteredView(view, str(change.new_version), keys, 0.0, False)
                self.offline_store.validate(candidate)
        changes = self.catalog.write(definitions)
        self._cache_loaded_at = -float("inf")
        return changes

    def diff(self, definitions: Definitions | str | Path) -> list[ViewChange]:
        return self.catalog.diff(self._definitions(definitions))

    def list_views(self, *, all_versions: bool = False) -> list[RegisteredView]:
        return self.catalog.views(all_versions=all_versions)

    def _definitions(self, definitions: Definitions | str | Path) -> Definitions:
        if not isinstance(definitions, Definitions):
            definitions = load_definitions(definitions)
        definitions.validate_names()
        return definitions

    def resolve(self, features: Sequence[str]) -> list[FeatureRef]:
        """Parse ``view:feature`` / ``view@version:feature``; unknown names raise NotFoundError."""
        if isinstance(features, str) or not features:
            raise ConfigError("features must be a non-empty list of 'view:feature'",
                              field="features", fix='pass e.g. ["eye_measurements:axial_length"]')
        self._refresh_cache()
        key = tuple(features)
        if key in self._resolved:
            return self._resolved[key]
        refs = []
        for text in features:
            match = _REF.match(text)
            if match is None:
                raise ConfigError(f"{text!r} is not 'view:feature' or 'view@version:feature'",
                                  field="features", fix="write e.g. 'eye_measurements:k1'")
            registered = self._registered(match["view"], match["version"])
            registered.view.feature(match["feature"])
            refs.append(FeatureRef(registered, match["feature"]))
        self._resolved[key] = refs
        return refs

    def _refresh_cache(self, *, force: bool = False) -> None:
        max_age = self.settings.features.catalog_refresh_seconds
        if force or time.monotonic() - self._cache_loaded_at > max_age:
            cache: dict[str, list[RegisteredView]] = {}
            for registered in self.catalog.views(all_versions=True):
                cache.setdefault(registered.name, []).append(registered)
            self._cache, self._resolved, self._plans = cache, {}, {}
            self._cache_loaded_at = time.monotonic()

    def _registered(self, name: str, version: str | None) -> RegisteredView:
        for attempt in range(2):
            for registered in self._cache.get(name, []):
                if (version is None and registered.active) or registered.version == version:
                    return registered
            if attempt == 0:  # perhaps applied by another process since the last refresh
                self._refresh_cache(force=True)
        return self.catalog.get(name, version)  # raises NotFoundError naming the known ones

    # -- offline -----------------------------------------------------------------------------

    def get_training_frame(self, entity_frame: pd.DataFrame, features: Sequence[str], *,
                           timestamp_column: str = "event_timestamp",
                           full_names: bool = False) -> pd.DataFrame:
        """Point-in-time correct features for each row of ``entity_frame``.

        Each row gets, per view, the newest value whose event time is at or before the row's
        timestamp (and within the view's TTL), else a missing value.

        Args:
            entity_frame: join keys of the views and ``timestamp_column``; other columns
                (labels) are kept.
            features: ``view:feature`` or ``view@version:feature``.
            full_names: name columns ``view__feature`` instead of ``feature``.
        """
        refs = self.resolve(features)
        names = self._output_names(refs, full_names)
        clash = set(names) & set(entity_frame.columns)
        if clash:
            raise ConfigError(f"feature columns {sorted(clash)} already exist in the entity frame",
                              field="features", fix="rename those columns or use full_names")
        return self.offline_store.training_frame(entity_frame, self._requests(refs, names),
                                                 timestamp_column)

    @staticmethod
    def _requests(refs: list[FeatureRef], names: list[str]) -> list[ViewFeatures]:
        """The features grouped by view version, in the order first requested."""
        grouped: dict[str, ViewFeatures] = {}
        for ref, name in zip(refs, names, strict=True):
            table = ref.registered.table
            if table not in grouped:
                grouped[table] = ViewFeatures(ref.registered, [], [])
            grouped[table].features.append(ref.feature)
            grouped[table].output_names.append(name)
        return list(grouped.values())

    @staticmethod
    def _output_names(refs: list[FeatureRef], full_names: bool) -> list[str]:
        names = [f"{r.registered.name}__{r.feature}" if full_names else r.feature for r in refs]
        dupes = sorted(n for n, count in Counter(names).items() if count > 1)
        if dupes:
            raise ConfigError(f"feature names {dupes} are requested twice or from two views",
                              field="features", fix="use full_names=True or drop the duplicate")
        return names

    # -- online ------------------------------------------------------------------------------

    def materialize(self, start: Any = None, end: Any = None, *,
                    views: Sequence[str] | None = None, progress: bool = False
                    ) -> dict[str, int]:
        """Copy the newest value per key with ``start < event time <= end`` to the online store.

        Without ``start``, each view continues where its last materialisation ended (all
        history the first time); without ``end``, up to now. ``views``: names (active
        version) or ``name@version``; default: every active view. Returns records written
        per ``view@version``.

        Each view is a chunk of a resumable job (``recstack.jobs``, in the feature home):
        when a materialisation is killed, running it again with the same arguments skips the
        views it finished and completes the others over the window it started with (its
        resolved "now" included), then returns the counts of all of them.
        """
        end_ts = _timestamp(end if end is not None else time.time(), "end")
        start_ts = None if start is None else _timestamp(start, "start")
        if start_ts is not None and start_ts >= end_ts:
            raise ConfigError("start must be before end", field="start",
                              fix="give start < end")
        chosen = {r.table: r for r in ([self.catalog.get(*v.split("@", 1)) for v in views]
                                       if views else self.list_views())}
        job = ResumableJob(self.home / "jobs", _materialize_job_id(
            list(chosen), start_ts, None if end is None else end_ts))
        # Pinned on the first attempt: a resumed job must not move its window.
        pinned = job.parameters({"end_us": _us(end_ts), "since_us": {
            table: self.catalog.materialized_until(r) for table, r in chosen.items()}})
        if pinned["end_us"] != _us(end_ts):
            logger.warning("resuming a killed materialisation up to %s; run again to reach now",
                           pd.Timestamp(pinned["end_us"], unit="us"))
        end_ts = pd.Timestamp(pinned["end_us"], unit="us").as_unit("us")
        with Progress(disable=not progress, transient=True) as bar:
            def copy_view(table: str, _output: Path) -> int:
                registered = chosen[table]
                task = bar.add_task(f"materialise {table}", total=None)
                since, last = start_ts, pinned["since_us"].get(table)
                if since is None and last is not None:
                    since = pd.Timestamp(last, unit="us")
                batches = self.offline_store.latest_rows(registered, since, end_ts,
                                                         _MATERIALIZE_BATCH)
                written = self._copy(batches, registered, bar, task)
                self.catalog.record_materialization(registered, pinned["end_us"])
                return written

            summary = job.run(list(chosen), copy_view, progress=bar, stop_on_error=True)
        job.clear()  # finished: the next materialisation is a new job
        return {table: int(summary.results[table]) for table in chosen}

    def _copy(self, batches: Iterator[list[tuple[Any, ...]]], registered: RegisteredView,
              bar: Progress, task: Any) -> int:
        n_keys = len(registered.join_keys)
        names = [f.name for f in registered.view.features]
        total = 0
        for rows in batches:
            records = [(entity_key(row[:n_keys]),
                        OnlineRecord(dict(zip(names, row[n_keys + 2:], strict=True)),
                                     row[n_keys], NO_CREATED if row[n_keys + 1] is None
                                     else row[n_keys + 1]))
                       for row in rows]
            total += self.online_store.write(registered.table, records)
            bar.advance(task, len(rows))
        return total

    def get_online_features(self, entity_rows: Sequence[Mapping[str, Any]] | pd.DataFrame,
                            features: Sequence[str], *, at: Any = None, full_names: bool = False,
                            log_as: str | None = None) -> OnlineFeatures:
        """The materialised values for each entity, in input order; missing or expired: None.

        Args:
            entity_rows: dicts (or a frame) holding the join keys of every requested view.
            at: the time TTLs are measured at (default now).
            log_as: record the exact vectors under this consumer name (``served_vectors``).
        """
        given: Sequence[Any] = (entity_rows.to_dict("records")
                                if isinstance(entity_rows, pd.DataFrame) else entity_rows)
        plan = self._online_plan(features, full_names)
        now_us = (int(time.time() * 1_000_000) if at is None
                  else int(_timestamp(at, "at").value // 1000))
        for i, row in enumerate(given):
            if not isinstance(row, Mapping):
                raise DataError(f"entity row {i} is {type(row).__name__}, not an object",
                                field=f"entity_rows.{i}", fix='give {"join_key": value, ...}')
        rows: list[dict[str, Any]] = [dict(r) for r in given]
        for registered, wanted in plan.groups:
            keys = [entity_key(_key_values(row, registered, i)) for i, row in enumerate(rows)]
            ttl_us = (registered.view.ttl_seconds or 0) * 1_000_000
            records = self.online_store.read(registered.table, keys)
            for row, record in zip(rows, records, strict=True):
                if record is None or (ttl_us and record.event_us < now_us - ttl_us):
                    row.update(dict.fromkeys(name for _, name in wanted))
                else:
                    row.update((name, record.values.get(feature)) for feature, name in wanted)
        result = OnlineFeatures(list(plan.resolved), rows)
        if log_as:
            self._log(log_as, result, plan.names)
        return result

    def _online_plan(self, features: Sequence[str], full_names: bool) -> _OnlinePlan:
        """What to read from which table; cached with the catalog (one request = one lookup)."""
        key = (*features, f"full_names={full_names}")
        refs = self.resolve(features)  # refreshes the cache when stale, clearing old plans
        if key not in self._plans:
            names = self._output_names(refs, full_names)
            groups: dict[str, tuple[RegisteredView, list[tuple[str, str]]]] = {}
            for ref, name in zip(refs, names, strict=True):
                groups.setdefault(ref.registered.table, (ref.registered, []))[1].append(
                    (ref.feature, name))
            self._plans[key] = _OnlinePlan(names, [r.resolved for r in refs],
                                           list(groups.values()))
        return self._plans[key]

    # -- served vectors, for monitoring ------------------------------------------------------

    def _log(self, consumer: str, result: OnlineFeatures, names: list[str]) -> None:
        now = time.time()
        with sqlite3.connect(self.home / "served.db") as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS served (logged_at REAL, consumer TEXT, "
                         "entity TEXT, features TEXT, vals TEXT)")
            conn.executemany("INSERT INTO served VALUES (?, ?, ?, ?, ?)", [
                (now, consumer,
                 json.dumps({k: v for k, v in row.items() if k not in names}, default=str),
                 json.dumps(result.features), json.dumps([row[n] for n in names]))
                for row in result.rows])

    def served_vectors(self, consumer: str | None = None) -> pd.DataFrame:
        """Logged feature vectors: logged_at, consumer, entity, features, values."""
        path = self.home / "served.db"
        columns = ["logged_at", "consumer", "entity", "features", "values"]
        if not path.exists():
            return pd.DataFrame(columns=columns)
        with sqlite3.connect(path) as conn:
            sql = "SELECT logged_at, consumer, entity, features, vals FROM served"
            args: list[str] = []
            if consumer:
                sql += " WHERE consumer = ?"
                args.append(consumer)
            frame = pd.DataFrame(conn.execute(sql + " ORDER BY rowid", args).fetchall(),
                                 columns=columns)
        for column in ("entity", "features", "values"):
            frame[column] = frame[column].map(json.loads)
        frame["logged_at"] = pd.to_datetime(frame["logged_at"], unit="s", utc=True)
        return frame


def _key_values(row: Mapping[str, Any], registered: RegisteredView, index: int) -> list[Any]:
    missing = [k for k in registered.join_keys if row.get(k) is None]
    if missing:
        raise DataError(f"entity row {index} lacks join key {missing[0]!r} of view "
                        f"{registered.name!r}", field=f"entity_rows.{index}.{missing[0]}",
                        fix=f"give {registered.join_keys} in every entity row")
    return [row[k] for k in registered.join_keys]


def _us(stamp: pd.Timestamp) -> int:
    return int(stamp.value // 1000)


def _materialize_job_id(tables: list[str], start: pd.Timestamp | None,
                        end: pd.Timestamp | None) -> str:
    """Same views and window (an open end counts as "now") -> same job, so it can resume."""
    window = [sorted(tables), None if start is None else _us(start),
              None if end is None else _us(end)]
    return "materialize-" + hashlib.sha256(json.dumps(window).encode()).hexdigest()[:16]


def _timestamp(value: Any, field: str) -> pd.Timestamp:
    """A naive-UTC timestamp from a datetime, ISO text or epoch seconds."""
    try:
        stamp = (pd.Timestamp(value, unit="s", tz="UTC") if isinstance(value, int | float)
                 else pd.Timestamp(value))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read {value!r} as a time: {exc}", field=field,
                          fix="give a datetime, ISO text or epoch seconds") from exc
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.as_unit("us")
