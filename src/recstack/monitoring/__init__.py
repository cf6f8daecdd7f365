"""Monitoring: prediction log, late labels, drift, performance, alerts.

Names load lazily: ``recstack.settings`` imports this package's config, and the service should
not pay for SciPy and scikit-learn until monitoring is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "alerts": ["Alert", "AlertManager", "AlertRule", "EmailChannel", "SlackChannel",
               "evaluate_rules"],
    "drift": ["DriftDetector", "DriftReport", "domain_classifier_auc", "pca_reconstruction_error",
              "prediction_drift"],
    "drift_methods": ["drift_methods", "get_drift_method", "register_drift_method"],
    "estimate": ["ConfidenceBasedEstimator", "DirectLossEstimator"],
    "labels": ["ingest_labels", "join_by_entity", "prediction_frame"],
    "log": ["PredictionLog", "PredictionRecord", "open_store"],
    "performance": ["performance_by_window", "register_metric", "task_frame"],
    "reference": ["REFERENCE_FILE", "model_reference", "write_reference"],
    "runner": ["MonitorJob", "MonitoringResult", "run_monitoring"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "REFERENCE_FILE",
    "Alert",
    "AlertManager",
    "AlertRule",
    "ConfidenceBasedEstimator",
    "DirectLossEstimator",
    "DriftDetector",
    "DriftReport",
    "EmailChannel",
    "MonitorJob",
    "MonitoringResult",
    "PredictionLog",
    "PredictionRecord",
    "SlackChannel",
    "domain_classifier_auc",
    "drift_methods",
    "evaluate_rules",
    "get_drift_method",
    "ingest_labels",
    "join_by_entity",
    "model_reference",
    "open_store",
    "pca_reconstruction_error",
    "performance_by_window",
    "prediction_drift",
    "prediction_frame",
    "register_drift_method",
    "register_metric",
    "run_monitoring",
    "task_frame",
    "write_reference",
]

if TYPE_CHECKING:
    from recstack.monitoring.alerts import (
        Alert,
        AlertManager,
        AlertRule,
        EmailChannel,
        SlackChannel,
        evaluate_rules,
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


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'recstack.monitoring' has no attribute {name!r}")
    return getattr(importlib.import_module(f"recstack.monitoring.{_MODULE_OF[name]}"), name)
