"""Monitoring: prediction log, late labels, drift, performance, alerts."""
