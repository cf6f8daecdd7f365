"""Online feature reads from the feature store."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/features", tags=["features"])
