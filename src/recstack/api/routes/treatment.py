"""Treatment recommendation for one patient."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/treatment", tags=["treatment"])
