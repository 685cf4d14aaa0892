"""``GET /healthz`` (the process answers), ``GET /readyz`` (a snapshot is loaded and no
partition is stale beyond the configured grace) and ``GET /metrics`` (Prometheus). No key is
needed: load balancers and scrapers call them, and they say nothing about any tenant."""

from __future__ import annotations

import time

import pyarrow as pa
from fastapi import APIRouter, Request
from starlette.responses import Response

from jpki_fast.timeutil import iso

from .. import metrics
from ..models import Health, Readiness
from ..routing import DirectRoute
from ._common import json_response
from .snapshot import summary

router = APIRouter(tags=["health"], route_class=DirectRoute)


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz():
    return json_response({"status": "ok"})


@router.get(
    "/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}}, summary="Ready to answer"
)
async def readyz(request: Request):
    """200 when a snapshot is loaded and no partition is past its nextUpdate by more than the
    configured grace (``jpki-fast serve --stale-grace``); 503 with the reason otherwise."""
    config = request.app.state.config
    holder = getattr(request.app.state, "snapshots", None)
    if holder is None:
        body = {"ready": False, "generation": None, "reason": "no snapshot loaded", "stale_partitions": 0,
                "stale_grace_seconds": config.stale_grace}
        return json_response(body, 503)
    store = holder.store
    request.state.generation = store.generation
    p = store.partitions()
    deadline = time.time() - config.stale_grace
    next_updates = p.column("next_update").cast(pa.int64()).to_pylist() if p.num_rows else []
    stale = [v for v in next_updates if v is None or v < deadline]
    reason = None
    if p.num_rows == 0:
        reason = "the snapshot holds no CRL"
    elif stale:
        known = [v for v in stale if v is not None]
        oldest = f" (oldest nextUpdate {iso(min(known))})" if known else ""
        reason = f"{len(stale):,} partition(s) past their nextUpdate by more than {config.stale_grace:g} s{oldest}"
    body = {
        "ready": reason is None,
        "generation": store.generation,
        "reason": reason,
        "stale_partitions": len(stale),
        "stale_grace_seconds": config.stale_grace,
        "reload_error": holder.last_error_summary,  # never the message: it can name paths (docs/SECURITY.md F3)
    }
    return json_response(body, 200 if reason is None else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    summary="Prometheus metrics (all workers)",
)
async def metrics_endpoint(request: Request):
    holder = getattr(request.app.state, "snapshots", None)
    published = summary(holder.store).published_epoch if holder is not None else None
    body, content_type = metrics.render(published)
    return Response(body, media_type=content_type)

