"""``POST /v1/status``: revocation status of serials, in batches of up to ``--max-items``.

The body goes from the request bytes to the response bytes through :mod:`jpki_fast.wire`
(JSON or Arrow IPC stream, by Content-Type and Accept), without a Python object per item:
the models in :mod:`..models` document the shapes only. A malformed serial is answered per
item (status ``malformed`` with a detail) without failing the batch; an issuer outside the
trust store is answered ``unknown``.
"""

from __future__ import annotations

import weakref

import jpki_fast
import numpy as np
import pyarrow as pa
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from jpki_fast import wire

from ..audit import RequestFacts
from ..auth import Principal, QUERY
from ..errors import ServiceError
from ..limits import Limits, limits, media_type
from ..models import StatusResponse
from ..recorder import note
from ..routing import DirectRoute
from ..snapshots import current_store
from ._common import ARROW, JSON, POST_ERRORS, run, wants_arrow

router = APIRouter(tags=["status"], route_class=DirectRoute)

_ARROW_SCHEMA_NOTE = (
    "Arrow IPC stream with columns issuer (string) and serial (hex string, binary or uint64); "
    "the answer is an Arrow IPC stream of the result columns, generation and checked_at in the schema metadata"
)


@router.post(
    "/v1/status",
    response_model=StatusResponse,
    responses={
        **POST_ERRORS,
        200: {"content": {ARROW: {"schema": {"type": "string", "format": "binary"}}}, "description": "JSON, or " + _ARROW_SCHEMA_NOTE},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": {"$ref": "#/components/schemas/StatusRequest"}},
                ARROW: {"schema": {"type": "string", "format": "binary", "description": _ARROW_SCHEMA_NOTE}},
            },
        }
    },
    summary="Revocation status of serials (JSON or Arrow IPC)",
)
async def status(
    request: Request,
    principal: Principal = Depends(QUERY),
    store: jpki_fast.Store = Depends(current_store),
    limit: Limits = Depends(limits),
):
    """``{"issuer": "auth_ca_2023", "serials": ["054CFCD8", ...]}`` or ``{"items": [{"issuer":
    ..., "serial": ...}, ...]}``, with optional ``now`` and ``provenance``. Statuses: good,
    revoked (with reason and revocation_date), stale, unknown (issuer not trusted), malformed
    (with a detail)."""
    kind = media_type(request)
    arrow_out = wants_arrow(request)
    if kind not in (JSON, ARROW) and not kind.endswith("+json"):
        raise ServiceError(
            415, "unsupported_media_type", f"Content-Type {kind or 'none'}: send {JSON} or {ARROW}", "header/Content-Type"
        )
    body = await request.body()
    decode = wire.decode_status_arrow if kind == ARROW else wire.decode_status_json
    decoded = decode(body, max_items=limit.max_items)
    if decoded.n == 0:
        raise ServiceError(422, "invalid_field", "empty batch: give at least one serial", "/serials")
    encode = wire.encode_status_arrow if arrow_out else wire.encode_status_json

    def answer():
        result = wire.check_status(store, decoded)
        return result, encode(result)

    result, encoded = await run(answer, decoded.n)  # one hop to a worker thread for big batches, not two
    note(request, _facts(request, store, result))
    return Response(encoded, media_type=ARROW if arrow_out else JSON)


#: Per open snapshot: certificate kind by issuer alias and key id (computed once, not per request).
_KINDS: "weakref.WeakKeyDictionary[jpki_fast.Store, dict[str, str]]" = weakref.WeakKeyDictionary()


def _kinds(store: jpki_fast.Store) -> dict[str, str]:
    kinds = _KINDS.get(store)
    if kinds is None:
        kinds = {}
        for info in store.issuers():
            kinds[info.alias] = info.kind or "unknown"
            kinds[info.key_id] = info.kind or "unknown"
        _KINDS[store] = kinds
    return kinds


def _dictionary(column: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return array if pa.types.is_dictionary(array.type) else array.dictionary_encode()


def _facts(request: Request, store: jpki_fast.Store, result) -> RequestFacts:
    """Counts by status and by (certificate kind, status), and the audit HMACs, from the
    result columns: one bincount over the (issuer, status) dictionary codes, no per-item work
    for big batches."""
    table = result.table
    facts = RequestFacts(items=table.num_rows, counts={k: v for k, v in result.counts.items() if v})
    kinds = _kinds(store)
    issuers, statuses = _dictionary(table.column("issuer")), _dictionary(table.column("status"))
    issuer_kinds = [kinds.get(name, "unknown") for name in issuers.dictionary.to_pylist()] + ["unknown"]  # last: no issuer
    status_names = statuses.dictionary.to_pylist()
    codes = issuers.indices.fill_null(len(issuer_kinds) - 1).to_numpy(zero_copy_only=False).astype(np.int64) * len(status_names)
    codes += statuses.indices.to_numpy(zero_copy_only=False)
    tally = np.bincount(codes, minlength=len(issuer_kinds) * len(status_names))
    for code in np.flatnonzero(tally).tolist():
        i, st = divmod(code, len(status_names))
        by_kind = facts.kinds.setdefault(issuer_kinds[i], {})
        by_kind[status_names[st]] = by_kind.get(status_names[st], 0) + int(tally[code])
    audit = request.app.state.audit
    if audit is not None:
        n = table.num_rows
        if n <= audit.per_item_limit:
            subjects = [
                f"{i}/{s}".encode() for i, s in zip(table.column("issuer").to_pylist(), table.column("serial").to_pylist())
            ]
            facts.subjects = audit.subjects(subjects, n)
        else:
            facts.subjects = audit.digest_of_buffers(_buffers(result.serial_keys, table), n)
    return facts


def _buffers(keys: np.ndarray, table: pa.RecordBatch) -> list:
    """The raw bytes the batch digest covers: the normalized serial keys and the issuers."""
    return [memoryview(np.ascontiguousarray(keys)).cast("B"), *_array_buffers(table.column("issuer"))]


def _array_buffers(array: pa.Array | pa.ChunkedArray) -> list:
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    out = []
    for chunk in chunks:
        out.extend(b for b in chunk.buffers() if b is not None)
        if pa.types.is_dictionary(chunk.type):
            out.extend(b for b in chunk.dictionary.buffers() if b is not None)
    return out
