"""The matching system's routes in one router (the spec names one): ``/v1/places/…`` and
``/v1/packages/…``."""

from __future__ import annotations

from fastapi import APIRouter

from recstack.matching.packages_router import router as packages_router
from recstack.matching.router import router as places_router

router = APIRouter()
router.include_router(places_router)
router.include_router(packages_router)
