"""Liveness and readiness probes; public, no API key (design §5)."""

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from api.shared.problems import Problem, problem_response
from api.shared.store import UNAVAILABLE_TITLE
from api.shared.temporal import gateway

router = APIRouter(tags=["health"])


class Health(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    status: Literal["ok"] = "ok"
    """Always `ok`."""


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Health,
    summary="Dependencies are reachable (Temporal, the finance store)",
    responses={503: {"model": Problem, "content": {"application/problem+json": {}}}},
)
async def readyz(request: Request) -> JSONResponse:
    if not await gateway(request).healthy():
        return problem_response(
            503,
            "temporal-unavailable",
            "Temporal is not reachable",
            instance=request.url.path,
            headers={"Retry-After": "2"},
        )
    if not await asyncio.to_thread(request.app.state.store.healthy):
        return problem_response(
            503,
            "database-unavailable",
            "The finance store is not reachable",
            instance=request.url.path,
            title=UNAVAILABLE_TITLE,
            headers={"Retry-After": "2"},
        )
    return JSONResponse(Health().model_dump())
