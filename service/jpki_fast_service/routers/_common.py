"""Helpers the routers share: decoding base64 fields with their location, turning result tables
into JSON rows, content negotiation, running big work off the event loop."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any, Callable, TypeVar

import anyio
import orjson
import pyarrow as pa
from fastapi import Request
from starlette.responses import Response

from jpki_fast.timeutil import to_epoch

from ..audit import RequestFacts
from ..errors import ServiceError
from ..models import ErrorResponse

ARROW = "application/vnd.apache.arrow.stream"
JSON = "application/json"

T = TypeVar("T")

_DESCRIPTIONS = {
    400: "malformed body",
    401: "missing or unknown API key",
    403: "the key lacks the role",
    406: "unsupported Accept header",
    413: "too many items, or the body is too large",
    415: "unsupported content type",
    422: "a field is invalid (location names it)",
    503: "not ready",
}


def errors(*codes: int) -> dict:
    """The error responses an endpoint documents (so the OpenAPI schema lists every status it
    can answer)."""
    return {code: {"model": ErrorResponse, "description": _DESCRIPTIONS[code]} for code in codes}


POST_ERRORS = errors(400, 401, 403, 413, 415, 422)
GET_ERRORS = errors(401, 403, 406, 422)

#: Work on more items than this runs in a worker thread, so the event loop keeps answering
#: small requests (logins) meanwhile; smaller work runs inline (a thread hop costs more).
INLINE_ITEMS = 64


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


async def run(fn: Callable[[], T], items: int) -> T:
    """Runs ``fn`` inline for small work, in a worker thread for big work (the library
    releases the GIL in its Rust core, so other requests proceed)."""
    if items <= INLINE_ITEMS:
        return fn()
    return await anyio.to_thread.run_sync(fn)


def epoch(now: dt.datetime | int | None, location: str = "/now") -> int:
    try:
        return to_epoch(now)
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        raise ServiceError(422, "invalid_field", f"{location}: {exc}", location) from None


def b64(text: str | None, location: str) -> bytes:
    """Standard base64 (padding optional, whitespace ignored) or 422 naming the field."""
    if text is None:
        raise ServiceError(422, "invalid_field", f"{location}: required", location)
    compact = "".join(text.split())
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ServiceError(422, "invalid_field", f"{location}: not valid base64", location) from None


def certificate(text: str, location: str) -> bytes:
    """A certificate field: PEM text as it is (the library reads PEM), else base64 DER."""
    stripped = text.lstrip()
    if stripped.startswith("-----BEGIN"):
        try:
            return stripped.encode("ascii")
        except UnicodeEncodeError:
            raise ServiceError(422, "invalid_field", f"{location}: PEM text must be ASCII", location) from None
    der = b64(text, location)
    if not der:
        raise ServiceError(422, "invalid_field", f"{location}: empty certificate", location)
    return der


def rows(table: pa.Table, columns: list[str]) -> list[dict]:
    """JSON-ready rows of the chosen columns (timestamps as ISO 8601 UTC strings)."""
    names = [c for c in columns if c in table.column_names]
    selected = table.select(names)
    stamps = [n for n in names if pa.types.is_timestamp(selected.schema.field(n).type)]
    out = selected.to_pylist()
    for row in out:
        for name in stamps:
            value = row[name]
            if value is not None:
                row[name] = value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def counts_of(table: pa.Table, column: str = "status", kind_column: str | None = "kind") -> RequestFacts:
    """Counts by status and by (kind, status) of a result table, for metrics and the audit log."""
    n = table.num_rows
    facts = RequestFacts(items=n)
    if n == 0:
        return facts
    statuses = table.column(column).to_pylist()
    kinds = table.column(kind_column).to_pylist() if kind_column and kind_column in table.column_names else [None] * n
    for status, kind in zip(statuses, kinds):
        facts.counts[status] = facts.counts.get(status, 0) + 1
        by_kind = facts.kinds.setdefault(kind or "unknown", {})
        by_kind[status] = by_kind.get(status, 0) + 1
    return facts


def subject_keys(table: pa.Table, ders: list[bytes]) -> list[bytes]:
    """What the audit log HMACs for each certificate: ``issuer/serial`` when the certificate
    could be read, else its raw bytes."""
    issuers = table.column("issuer").to_pylist()
    serials = table.column("serial").to_pylist()
    return [
        f"{i}/{s}".encode() if i is not None and s is not None else der for i, s, der in zip(issuers, serials, ders)
    ]


def wants_arrow(request: Request) -> bool:
    """Arrow IPC when the Accept header asks for it (before JSON, or alone); 406 when it accepts
    neither."""
    accept = request.headers.get("accept", "")
    if not accept:
        return False
    types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if ARROW in types:
        json_pos = min((i for i, t in enumerate(types) if t in (JSON, "application/*", "*/*")), default=len(types))
        return types.index(ARROW) < json_pos
    if any(t in (JSON, "application/*", "*/*") or t.endswith("+json") for t in types):
        return False
    raise ServiceError(406, "not_acceptable", f"cannot answer {accept!r}: use {JSON} or {ARROW}", "header/Accept")


def arrow_response(table: pa.Table, metadata: dict[str, str]) -> Response:
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in metadata.items()}})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Response(sink.getvalue().to_pybytes(), media_type=ARROW)
