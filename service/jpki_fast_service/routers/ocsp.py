"""``POST /ocsp`` and ``GET /ocsp/{request}``: an OCSP responder (RFC 6960) on the snapshot.

Served when ``jpki-fast serve`` is given responder pairs (``--ocsp-cert FILE --ocsp-key FILE``,
one pair per CA key; see :mod:`jpki_fast.ocsp` for what they must be and what the answers say).
HTTP only: the answers are :class:`jpki_fast.ocsp.OcspResponder`'s.

- ``POST /ocsp`` with ``Content-Type: application/ocsp-request`` and the DER request as body
  (what OpenSSL, Java and most clients send), or ``GET /ocsp/{base64}`` (RFC 6960 Appendix A.1:
  the base64 of the DER request, URL-encoded; standard or URL-safe alphabet, padding optional,
  slashes inside the path). Answers are ``application/ocsp-response``, HTTP 200 for every OCSP
  outcome, ``malformedRequest`` and ``unauthorized`` included, as RFC 6960 Appendix A expects.
  HTTP errors only for HTTP faults: 405 wrong method, 415 wrong content type, 413 a body over
  the OCSP size limit (64 KiB).
- Pre-produced responses (RFC 5019 §2.1): the response to a request about one certificate
  without a nonce is kept per (CertID, snapshot generation) in a bounded in-memory cache
  (``--ocsp-cache-bytes``, least recently used out first), served with ``Cache-Control:
  max-age=<seconds to nextUpdate>, public, no-transform, must-revalidate``, ``ETag`` (the hex
  SHA-256 of the response), ``Last-Modified`` (thisUpdate), ``Expires`` (nextUpdate), and
  revalidated by ``If-None-Match`` (304). A newly loaded generation empties the cache; an entry
  past its nextUpdate is never served. Responses to requests with a nonce are signed live and
  marked ``Cache-Control: no-store``.
- Access: open by default (relying parties inside the platform), or ``--ocsp-auth key``: an
  API key with the ``query`` role in ``X-API-Key`` (``openssl ocsp -header X-API-Key=...``);
  without one the answer is the OCSP ``unauthorized`` response, with HTTP 401 (no or unknown
  key) or 403 (a key without the role).
- Metrics: ``jpki_fast_ocsp_responses_total{status}`` (response status),
  ``jpki_fast_ocsp_cache_total{result}`` (hit / miss), and, as every endpoint, the request
  counters and ``jpki_fast_checks_total{endpoint,status}`` by certificate status. The audit log
  gets one line per request, serials as keyed HMACs of ``issuer/serial`` like every endpoint.
"""

from __future__ import annotations

import base64
import binascii
import collections
import email.utils
import logging
import threading
import time
from dataclasses import dataclass

import jpki_fast
from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import Counter
from starlette.responses import Response

from jpki_fast import ocsp as _ocsp

from ..audit import RequestFacts
from ..auth import HEADER, api_key_header
from ..errors import ServiceError
from ..limits import media_type
from ..recorder import note
from ..ocsp_settings import OcspSettings
from ..snapshots import current_store

log = logging.getLogger("jpki_fast_service")

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"

RESPONSES = Counter("jpki_fast_ocsp_responses", "OCSP responses by response status", ["status"])
CACHE = Counter("jpki_fast_ocsp_cache", "Lookups in the cache of pre-produced OCSP responses", ["result"])


class ResponseCache:
    """Pre-produced responses of one generation, least recently used out first, at most
    ``max_bytes`` of responses. Thread-safe (requests may be answered in worker threads)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.generation: int | None = None
        self._entries: collections.OrderedDict[bytes, _ocsp.OcspAnswer] = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def _for(self, generation: int) -> None:
        if generation != self.generation:
            self._entries.clear()
            self._bytes = 0
            self.generation = generation

    def get(self, generation: int, key: bytes, now: int) -> _ocsp.OcspAnswer | None:
        with self._lock:
            self._for(generation)
            answer = self._entries.get(key)
            if answer is None:
                return None
            if answer.next_update is None or answer.next_update <= now:
                self._bytes -= len(self._entries.pop(key).der)
                return None
            self._entries.move_to_end(key)
            return answer

    def put(self, generation: int, answer: _ocsp.OcspAnswer) -> None:
        size = len(answer.der)
        if answer.cache_key is None or size > self.max_bytes:
            return
        with self._lock:
            self._for(generation)
            old = self._entries.pop(answer.cache_key, None)
            if old is not None:
                self._bytes -= len(old.der)
            self._entries[answer.cache_key] = answer
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped.der)


@dataclass
class OcspState:
    """What the endpoints share, on ``app.state.ocsp``."""

    responder: _ocsp.OcspResponder
    cache: ResponseCache
    settings: OcspSettings


router = APIRouter(tags=["ocsp"])

_DOC_RESPONSES = {
    200: {"content": {OCSP_RESPONSE: {"schema": {"type": "string", "format": "binary"}}}, "description": "a DER OCSPResponse"},
    304: {"description": "not modified (If-None-Match matched the ETag)"},
    401: {"content": {OCSP_RESPONSE: {}}, "description": "with --ocsp-auth key: no or unknown API key (OCSP unauthorized)"},
    403: {"content": {OCSP_RESPONSE: {}}, "description": "with --ocsp-auth key: the key lacks the query role (OCSP unauthorized)"},
    413: {"description": "the request is larger than the OCSP limit"},
    415: {"description": "Content-Type is not application/ocsp-request"},
}


def _http_date(epoch: int) -> str:
    return email.utils.formatdate(epoch, usegmt=True)


def _refused(request: Request, state: OcspState) -> Response | None:
    """With ``--ocsp-auth key``: the OCSP ``unauthorized`` answer (401/403) for a request
    without a key of the query role; None when it may ask."""
    if state.settings.auth == "open":
        return None
    principal = request.app.state.keys.lookup(request.headers.get(HEADER))
    if principal is not None:
        request.state.principal = principal
        if principal.has("query"):
            return None
    status = 401 if principal is None else 403
    RESPONSES.labels("unauthorized").inc()
    note(request, RequestFacts(items=0, counts={"unauthorized": 1}))
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = HEADER
    return Response(_UNAUTHORIZED, status_code=status, media_type=OCSP_RESPONSE, headers=headers)


#: OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED unauthorized(6) } (RFC 6960 §4.2.1).
_UNAUTHORIZED = b"\x30\x03\x0a\x01\x06"


def _answer(request: Request, store: jpki_fast.Store, body: bytes) -> Response:
    state: OcspState = request.app.state.ocsp
    now = int(time.time())
    key = state.responder.cache_key(body)
    answer = None
    if key is not None:
        answer = state.cache.get(store.generation, key, now)
        CACHE.labels("hit" if answer is not None else "miss").inc()
    if answer is None:
        answer = state.responder.answer(body, store, now)
        if answer.cacheable:
            state.cache.put(store.generation, answer)
    RESPONSES.labels(answer.response_status).inc()
    note(request, _facts(request, answer))
    if answer.cacheable:
        etag = f'"{answer.etag}"'
        headers = {
            "Cache-Control": f"max-age={answer.max_age(now)}, public, no-transform, must-revalidate",
            "ETag": etag,
            "Last-Modified": _http_date(answer.this_update),
            "Expires": _http_date(answer.next_update),
        }
        if request.method == "GET" and etag in _etags(request.headers.get("if-none-match")):
            return Response(status_code=304, headers=headers)
        return Response(answer.der, media_type=OCSP_RESPONSE, headers=headers)
    return Response(answer.der, media_type=OCSP_RESPONSE, headers={"Cache-Control": "no-store"})


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {t.strip().removeprefix("W/") for t in header.split(",")}


def _facts(request: Request, answer: _ocsp.OcspAnswer) -> RequestFacts:
    """For the metrics and the audit log: certificate statuses (or the response status of a
    refused request), by CA kind, and HMACs of ``issuer/serial``."""
    if answer.response_status != "successful":
        counts = {answer.response_status: 1}
        return RequestFacts(items=0, counts=counts, kinds={answer.kind or "unknown": dict(counts)})
    counts: dict[str, int] = {}
    for status in answer.statuses:
        counts[status] = counts.get(status, 0) + 1
    facts = RequestFacts(items=len(answer.statuses), counts=counts, kinds={answer.kind or "unknown": dict(counts)})
    audit = request.app.state.audit
    if audit is not None:
        subjects = [f"{answer.issuer}/{s if s is not None else '-'}".encode() for s in answer.serials]
        facts.subjects = audit.subjects(subjects, len(subjects))
    return facts


async def _limited_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ServiceError:
    return ServiceError(413, "too_large", f"an OCSP request is at most {limit:,} bytes", "body")


@router.post(
    "/ocsp",
    response_class=Response,
    responses=_DOC_RESPONSES,
    openapi_extra={"requestBody": {"required": True, "content": {OCSP_REQUEST: {"schema": {"type": "string", "format": "binary"}}}}},
    summary="OCSP request (RFC 6960), DER body",
)
@router.post("/ocsp/", response_class=Response, include_in_schema=False)  # a responder URL configured with a trailing slash
async def ocsp_post(
    request: Request, store: jpki_fast.Store = Depends(current_store), _key: str | None = Depends(api_key_header)
):
    """A DER OCSPRequest in, a DER OCSPResponse out (see the module documentation)."""
    state: OcspState = request.app.state.ocsp
    refused = _refused(request, state)
    if refused is not None:
        return refused
    kind = media_type(request)
    if kind != OCSP_REQUEST:
        raise ServiceError(415, "unsupported_media_type", f"Content-Type {kind or 'none'}: send {OCSP_REQUEST}", "header/Content-Type")
    body = await _limited_body(request, state.responder.max_request_bytes)
    return _answer(request, store, body)


@router.get(
    "/ocsp/{encoded:path}",
    response_class=Response,
    responses=_DOC_RESPONSES,
    summary="OCSP request (RFC 6960 Appendix A.1), base64 in the path",
)
async def ocsp_get(
    request: Request, encoded: str, store: jpki_fast.Store = Depends(current_store), _key: str | None = Depends(api_key_header)
):
    """``GET /ocsp/{url-encoding of base64 of the DER OCSPRequest}``; standard or URL-safe
    base64, slashes of the standard alphabet inside the path."""
    state: OcspState = request.app.state.ocsp
    refused = _refused(request, state)
    if refused is not None:
        return refused
    limit = state.responder.max_request_bytes
    if len(encoded) > 2 * limit:
        raise _too_large(limit)
    return _answer(request, store, decode_get_path(encoded))


def decode_get_path(text: str) -> bytes:
    """The DER request of a GET path (already percent-decoded by the server; decoded once more
    when it still holds escapes). Text that is not base64 gives ``b""``, which is answered
    ``malformedRequest``.

    >>> decode_get_path("MEMwQTA_MD0wOzAJBgUrDgMCGgUABBQ") == decode_get_path("MEMwQTA/MD0wOzAJBgUrDgMCGgUABBQ=")
    True
    """
    from urllib.parse import unquote

    if "%" in text:
        text = unquote(text)
    compact = "".join(text.split()).replace("-", "+").replace("_", "/").rstrip("=")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return b""


def router_for(app: FastAPI) -> APIRouter:
    """The entry point the app factory calls (group ``jpki_fast_service.routers``): the OCSP
    router, configured from ``app.state.config``, or an empty router when no responder pair is
    configured. Fails (OcspConfigError) when a pair cannot be used."""
    settings = OcspSettings.of(app.state.config)
    if settings is None:
        return APIRouter()
    store = app.state.snapshots.store
    responder = settings.load(store)
    responder.warm(store)
    app.state.ocsp = OcspState(responder, ResponseCache(settings.cache_bytes), settings)
    names = ", ".join(f"{p.ca_alias} ({p.algorithm})" for p in responder.pairs)
    log.info("OCSP responder for %s; access %s", names, settings.auth)
    return router
