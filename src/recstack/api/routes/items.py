"""Item-to-item "viewed together" from the embeddings system."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/items", tags=["items"])
