"""``POST /v1/admin/reload`` and ``GET /v1/admin/usage``: for keys with the ``admin`` role.

Usage is counted from the audit log, which every worker appends to, so the counts cover all
workers and survive restarts: requests and items per tenant, key, endpoint, certificate kind
(from the issuing CA) and status over ``[from, to)``, what a platform bills its service
providers on. An admin key bound to a tenant sees only that tenant's usage.
"""

from __future__ import annotations

import datetime as dt

import anyio
from fastapi import APIRouter, Depends, Query, Request

from ..audit import read_records, time_text
from ..auth import ADMIN, Principal
from ..errors import ServiceError
from ..limits import known_query
from ..models import Instant, ReloadResponse, UsageResponse
from ..routing import DirectRoute
from ._common import errors, json_response

router = APIRouter(tags=["admin"], route_class=DirectRoute)


@router.post("/v1/admin/reload", response_model=ReloadResponse, responses=errors(401, 403, 503), summary="Load the newest generation now")
async def reload(request: Request, principal: Principal = Depends(ADMIN)):
    """Swaps in the published generation at once (it is otherwise picked up within the reload
    interval). Requests in flight finish on the snapshot they started on."""
    holder = request.app.state.snapshots
    try:
        result = await anyio.to_thread.run_sync(lambda: holder.reload(force=False))
    except Exception as exc:  # counted in the metrics by the holder
        raise ServiceError(503, "not_ready", f"the published generation cannot be opened: {exc}", "store") from None
    request.state.generation = result.generation
    return json_response({"generation": result.generation, "previous": result.previous, "changed": result.changed})


def _bound(value: dt.datetime | None) -> str | None:
    return None if value is None else time_text(value)


@router.get(
    "/v1/admin/usage",
    response_model=UsageResponse,
    responses=errors(401, 403, 422),
    dependencies=[Depends(known_query("from", "to", "tenant"))],
    summary="Usage per tenant, key, endpoint, kind and status",
)
async def usage(
    request: Request,
    start: Instant | None = Query(None, alias="from", description="from this instant (inclusive; ISO 8601)"),
    end: Instant | None = Query(None, alias="to", description="to this instant (exclusive; ISO 8601)"),
    tenant: str | None = Query(None, description="only this tenant (an admin key bound to a tenant sees only its own)"),
    principal: Principal = Depends(ADMIN),
):
    if start is not None and end is not None and _bound(end) < _bound(start):
        raise ServiceError(422, "invalid_field", "query/to: earlier than from", "query/to")
    if principal.tenant is not None:
        if tenant is not None and tenant != principal.tenant:
            raise ServiceError(403, "forbidden", "this admin key may see only its own tenant's usage", "query/tenant")
        tenant = principal.tenant
    audit = request.app.state.audit
    path = audit.path if audit is not None else request.app.state.config.resolved_audit_log()
    body = await anyio.to_thread.run_sync(lambda: aggregate(path, _bound(start), _bound(end), tenant))
    return json_response(
        {"from": _bound(start), "to": _bound(end), "tenant": tenant, "requests": body["requests"], "items": body["items"]}
    )


def aggregate(path, start: str | None, end: str | None, tenant: str | None) -> dict:
    """Counts of the audit records in ``[start, end)``."""
    requests: dict[tuple, list[int]] = {}
    items: dict[tuple, int] = {}
    for record in read_records(path, start, end):
        if tenant is not None and record.get("tenant") != tenant:
            continue
        if str(record.get("endpoint", "")).startswith(("/v1/admin/", "/ui")):
            continue  # operating the service (the admin API, the console's pages) is not usage
        key = (record.get("tenant"), record.get("key_id"), str(record.get("endpoint")))
        r = requests.setdefault(key, [0, 0, 0])
        r[0] += 1
        r[1] += int(record.get("items") or 0)
        r[2] += 1 if int(record.get("code") or 0) >= 400 else 0
        for kind, counts in (record.get("kinds") or {}).items():
            for status, n in counts.items():
                k = (*key, kind, status)
                items[k] = items.get(k, 0) + int(n)

    def order(k: tuple) -> tuple:
        return tuple("" if v is None else str(v) for v in k)

    return {
        "requests": [
            {"tenant": t, "key_id": k, "endpoint": e, "requests": r[0], "items": r[1], "errors": r[2]}
            for (t, k, e), r in sorted(requests.items(), key=lambda kv: order(kv[0]))
        ],
        "items": [
            {"tenant": t, "key_id": k, "endpoint": e, "kind": kind, "status": status, "count": n}
            for (t, k, e, kind, status), n in sorted(items.items(), key=lambda kv: order(kv[0]))
        ],
    }
