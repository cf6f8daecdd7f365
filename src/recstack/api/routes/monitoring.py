"""Monitoring summaries: drift, performance, alerts."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/monitoring", tags=["monitoring"])
