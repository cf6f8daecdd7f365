"""The tiny system's route: the champion greeter's greeting, logged like every prediction."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from recstack.serving import PredictionLoggerDep, VersionCache, model_cache

router = APIRouter(prefix="/v1/tiny", tags=["tiny"])


@router.get("/greet")
def greet(cache: Annotated[VersionCache[Any], Depends(model_cache("tiny"))],
          logger: PredictionLoggerDep, name: str = "you") -> dict[str, str]:
    model, info, _ = cache.get(None)
    text = f"{model['greeting']} {name}"
    request_id = logger.log(info, features={"name": name}, output={"text": text})
    return {"text": text, "version": info.version, "request_id": request_id}
