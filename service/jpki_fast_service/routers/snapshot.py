"""``GET /v1/snapshot`` and ``GET /v1/partitions``: what the served snapshot holds (counts and
freshness, never entries), as JSON or Arrow IPC (``Accept: application/vnd.apache.arrow.stream``)."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import jpki_fast
import numpy as np
import pyarrow as pa
from fastapi import APIRouter, Depends, Query, Request

from jpki_fast.timeutil import iso

from ..auth import Principal, QUERY
from ..limits import known_query
from ..models import Instant, PartitionsResponse, SnapshotResponse
from ..routing import DirectRoute
from ..snapshots import current_store
from ._common import ARROW, GET_ERRORS, arrow_response, epoch, json_response, rows, wants_arrow

router = APIRouter(tags=["snapshot"], route_class=DirectRoute)

_REASONS = list(jpki_fast.store.REASONS)


@dataclass(frozen=True)
class Summary:
    """What never changes for a generation: entries by issuer and reason, publication time."""

    published_at: str | None
    published_epoch: float | None
    by_reason: list[dict[str, int]]  # per issuer row
    entries: list[int]


_SUMMARIES: "weakref.WeakKeyDictionary[jpki_fast.Store, Summary]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def summary(store: jpki_fast.Store) -> Summary:
    """The generation's summary, computed once (one pass over the reason codes per issuer)."""
    with _LOCK:
        found = _SUMMARIES.get(store)
    if found is not None:
        return found
    by_reason, entries = [], []
    for info in store.issuers():
        counts: dict[str, int] = {}
        for table in (store.entries(info.alias), store.long_entries(info.alias)):
            if table.num_rows == 0:
                continue
            reason = table.column("reason").combine_chunks()
            codes = reason.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            valid = ~reason.is_null().to_numpy(zero_copy_only=False)
            tally = np.bincount(codes[valid], minlength=len(_REASONS))
            for code, n in enumerate(tally.tolist()):
                if n:
                    counts[_REASONS[code]] = counts.get(_REASONS[code], 0) + n
            missing = int((~valid).sum())
            if missing:
                counts["none"] = counts.get("none", 0) + missing
        by_reason.append(counts)
        entries.append(info.entries + info.long_entries)
    created = store.manifest.get("created_at")
    published = epoch(created) if created else None
    result = Summary(created, float(published) if published is not None else None, by_reason, entries)
    with _LOCK:
        _SUMMARIES[store] = result
    return result


def _freshness(store: jpki_fast.Store, now_s: int) -> dict:
    p = store.partitions()
    fresh = store.freshness(now_s).column("fresh").to_pylist() if p.num_rows else []
    next_updates = [v for v in p.column("next_update").cast(pa.int64()).to_pylist() if v is not None] if p.num_rows else []
    this_updates = p.column("this_update").cast(pa.int64()).to_pylist() if p.num_rows else []
    n_fresh = sum(1 for f in fresh if f)
    return {
        "partitions": p.num_rows,
        "fresh": n_fresh,
        "stale": p.num_rows - n_fresh,
        "oldest_next_update": iso(min(next_updates)) if next_updates else None,
        "oldest_this_update": iso(min(this_updates)) if this_updates else None,
    }


@router.get(
    "/v1/snapshot",
    response_model=SnapshotResponse,
    responses={**GET_ERRORS, 200: {"content": {ARROW: {}}, "description": "JSON, or Arrow IPC (one row per issuer key)"}},
    dependencies=[Depends(known_query("now"))],
    summary="The served snapshot: generation, counts, freshness",
)
async def snapshot(
    request: Request,
    now: Instant | None = Query(None, description="judge freshness at this instant (ISO 8601; default: now)"),
    principal: Principal = Depends(QUERY),
    store: jpki_fast.Store = Depends(current_store),
):
    """Generation, publication time, revoked entries by issuer key and reason, and a
    freshness summary (partitions fresh / stale at ``now``, the oldest nextUpdate)."""
    arrow = wants_arrow(request)
    now_s = epoch(now, "query/now")
    s = summary(store)
    revoked = store.revoked_issuers()
    issuers = [
        {
            "alias": info.alias,
            "key_id": info.key_id,
            "kind": info.kind,
            "entries": s.entries[i],
            "by_reason": s.by_reason[i],
            "revoked": info.alias in revoked,
        }
        for i, info in enumerate(store.issuers())
    ]
    freshness = _freshness(store, now_s)
    if arrow:
        reasons = sorted({r for counts in s.by_reason for r in counts})
        columns = {
            "issuer": pa.array([i["alias"] for i in issuers], pa.string()),
            "key_id": pa.array([i["key_id"] for i in issuers], pa.string()),
            "kind": pa.array([i["kind"] for i in issuers], pa.string()),
            "entries": pa.array([i["entries"] for i in issuers], pa.int64()),
            "revoked": pa.array([i["revoked"] for i in issuers], pa.bool_()),
            **{f"reason_{r}": pa.array([c.get(r, 0) for c in s.by_reason], pa.int64()) for r in reasons},
        }
        metadata = {"generation": str(store.generation), "published_at": s.published_at or "", "checked_at": iso(now_s)}
        metadata.update({k: "" if v is None else str(v) for k, v in freshness.items()})
        return arrow_response(pa.table(columns), metadata)
    return json_response(
        {
            "generation": store.generation,
            "published_at": s.published_at,
            "checked_at": iso(now_s),
            "entries": sum(s.entries),
            "issuers": issuers,
            "freshness": freshness,
        }
    )


@router.get(
    "/v1/partitions",
    response_model=PartitionsResponse,
    responses={**GET_ERRORS, 200: {"content": {ARROW: {}}, "description": "JSON, or Arrow IPC (the same columns)"}},
    dependencies=[Depends(known_query("now"))],
    summary="The partition CRLs held: numbers, times, entries, freshness",
)
async def partitions(
    request: Request,
    now: Instant | None = Query(None, description="judge freshness at this instant (ISO 8601; default: now)"),
    principal: Principal = Depends(QUERY),
    store: jpki_fast.Store = Depends(current_store),
):
    """One row per partition CRL (and authority revocation list) of the snapshot: issuer key,
    partition name, thisUpdate, nextUpdate, CRL number, entries, and whether it is fresh."""
    arrow = wants_arrow(request)
    now_s = epoch(now, "query/now")
    p = store.partitions()
    fresh = store.freshness(now_s).column("fresh") if p.num_rows else pa.array([], pa.bool_())
    table = pa.table(
        {
            "issuer": p.column("issuer"),
            "partition": p.column("name"),
            "kind": p.column("kind"),
            "crl_number": p.column("crl_number"),
            "this_update": p.column("this_update"),
            "next_update": p.column("next_update"),
            "entries": p.column("entries"),
            "fresh": fresh,
        }
    )
    if arrow:
        return arrow_response(table, {"generation": str(store.generation), "checked_at": iso(now_s)})
    return json_response({"generation": store.generation, "checked_at": iso(now_s), "partitions": rows(table, table.column_names)})


def warm(store: jpki_fast.Store) -> None:
    """Computes the summary before the generation serves its first request."""
    summary(store)

