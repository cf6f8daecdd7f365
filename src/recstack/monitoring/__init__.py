"""Monitoring: prediction log, late labels, drift, performance, alerts.

Names load lazily: ``recstack.settings`` imports this package's config, and the service should
not pay for SciPy and scikit-learn until monitoring is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recstack._lazy import lazy_exports

# ruff: noqa: F401 - these imports are the re-exports, for type checkers; ruff cannot read
# the __all__ that lazy_exports computes.
if TYPE_CHECKING:
    from recstack.monitoring.alerts import (
        Alert,
        AlertManager,
        AlertRule,
        EmailChannel,
        SlackChannel,
        evaluate_rules,
    )
    from recstack.monitoring.config import (
        LogStoreConfig,
        MonitoringSettings,
        PostgresLogStoreConfig,
        SQLiteLogStoreConfig,
    )
    from recstack.monitoring.drift import (
        DriftDetector,
        DriftReport,
        domain_classifier_auc,
        pca_reconstruction_error,
        prediction_drift,
    )
    from recstack.monitoring.drift_methods import (
        drift_methods,
        get_drift_method,
        register_drift_method,
    )
    from recstack.monitoring.estimate import ConfidenceBasedEstimator, DirectLossEstimator
    from recstack.monitoring.labels import ingest_labels, join_by_entity, prediction_frame
    from recstack.monitoring.log import PredictionLog, PredictionRecord, open_store
    from recstack.monitoring.performance import (
        performance_by_window,
        register_metric,
        task_frame,
    )
    from recstack.monitoring.reference import REFERENCE_FILE, model_reference, write_reference
    from recstack.monitoring.runner import MonitoringResult, MonitorJob, run_monitoring
    from recstack.monitoring.store import (
        LogStore,
        log_store_class,
        log_stores,
        register_log_store,
    )


__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "alerts": ["Alert", "AlertManager", "AlertRule", "EmailChannel", "SlackChannel",
               "evaluate_rules"],
    "config": ["LogStoreConfig", "MonitoringSettings", "PostgresLogStoreConfig",
               "SQLiteLogStoreConfig"],
    "drift": ["DriftDetector", "DriftReport", "domain_classifier_auc", "pca_reconstruction_error",
              "prediction_drift"],
    "drift_methods": ["drift_methods", "get_drift_method", "register_drift_method"],
    "estimate": ["ConfidenceBasedEstimator", "DirectLossEstimator"],
    "labels": ["ingest_labels", "join_by_entity", "prediction_frame"],
    "log": ["PredictionLog", "PredictionRecord", "open_store"],
    "performance": ["performance_by_window", "register_metric", "task_frame"],
    "reference": ["REFERENCE_FILE", "model_reference", "write_reference"],
    "runner": ["MonitorJob", "MonitoringResult", "run_monitoring"],
    "store": ["LogStore", "log_store_class", "log_stores", "register_log_store"],
})
