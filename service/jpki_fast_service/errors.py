"""Errors as JSON: every 4xx names what was wrong and where; nothing a client sends gets a 500.

Every error response has the same shape (:class:`jpki_fast_service.models.ErrorResponse`)::

    {"status": 422, "error": "invalid_field", "message": "...", "location": "/items/17/serial",
     "errors": [{"location": ..., "message": ...}, ...]}

``location`` is a JSON pointer into the body (``/serials/3``), or ``header/X-API-Key``,
``query/from``, ``body`` for the body as a whole. Messages never contain a serial or a
certificate in clear (clients can find the item from the location).
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger("jpki_fast_service")

_CODES = {
    400: "malformed_body",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_field",
    503: "not_ready",
}


class ServiceError(Exception):
    """An error to answer with ``status`` and a JSON body naming ``location``."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        location: str | None = None,
        errors: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.location = location
        self.errors = errors or [{"location": location, "message": message}]
        self.headers = headers


def error_response(exc: ServiceError) -> Response:
    body = {"status": exc.status, "error": exc.error, "message": exc.message, "location": exc.location, "errors": exc.errors}
    return Response(orjson.dumps(body), status_code=exc.status, media_type="application/json", headers=exc.headers)


def _pointer(loc: tuple | list) -> str:
    """FastAPI's ("body", "items", 3, "serial") as "/items/3/serial"; query/header as "query/from"."""
    parts = [str(p) for p in loc]
    if not parts:
        return "body"
    head, rest = parts[0], parts[1:]
    if head == "body":
        return "/" + "/".join(rest) if rest else "body"
    return head + ("/" + "/".join(rest) if rest else "")


def _location(err: dict) -> str:
    if err.get("type") == "json_invalid":
        return "body"
    return _pointer(err.get("loc", ()))


def _validation_message(err: dict) -> str:
    msg = err.get("msg", "invalid")
    if err.get("type") == "string_pattern_mismatch":
        pattern = str((err.get("ctx") or {}).get("pattern", ""))
        if "{42}" in pattern:
            return "expected a SHA-256 digest: 32 bytes in base64"
        if "BEGIN" in pattern:
            return "not valid base64 DER or PEM text"
        return "not valid base64 (standard alphabet, padding optional)"
    if err.get("type") == "json_invalid":
        detail = (err.get("ctx") or {}).get("error")
        loc = err.get("loc", ())
        at = f" at character {loc[1]}" if len(loc) > 1 and isinstance(loc[1], int) else ""
        return f"malformed JSON{at}: {detail}" if detail else f"malformed JSON{at}"
    return msg


def _one_union_member(errs: list[dict]) -> list[dict]:
    """A body that may take several shapes (one login or a batch) fails once per shape, each
    error's location led by the shape's model name: keep the shape that came closest (fewest
    errors) and drop its name from the locations."""
    members: dict[str, list[dict]] = {}
    for e in errs:
        loc = e.get("loc", ())
        if len(loc) >= 2 and loc[0] == "body" and isinstance(loc[1], str) and loc[1][:1].isupper():
            members.setdefault(loc[1], []).append(e)
    if not members or sum(len(v) for v in members.values()) != len(errs):
        return errs
    best = min(members.values(), key=len)
    return [{**e, "loc": ("body", *e["loc"][2:])} for e in best]


async def _validation_handler(request: Request, exc: RequestValidationError) -> Response:
    errs = _one_union_member(exc.errors())
    items = [{"location": _location(e), "message": _validation_message(e)} for e in errs[:50]]
    first = items[0] if items else {"location": "body", "message": "invalid request"}
    malformed = any(e.get("type") == "json_invalid" for e in errs)
    status = 400 if malformed else 422
    more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
    return error_response(
        ServiceError(status, _CODES[status], f"{first['location']}: {first['message']}{more}", first["location"], items)
    )


async def _service_error_handler(request: Request, exc: ServiceError) -> Response:
    return error_response(exc)


async def _http_handler(request: Request, exc: StarletteHTTPException) -> Response:
    status = exc.status_code
    if status == 413:
        from .limits import too_large

        return error_response(too_large(request.app.state.config.max_body))
    if status == 404:
        # The path is not echoed: a client may have put a serial in it.
        message, location = "no such endpoint (see /docs)", "path"
    elif status == 405:
        message, location = f"{request.method} is not allowed on {request.url.path}", "method"
    else:
        message, location = str(exc.detail), None
    return error_response(ServiceError(status, _CODES.get(status, "error"), message, location, headers=exc.headers))


async def _library_error_handler(request: Request, exc: Exception) -> Response:
    """Errors the library raises for input it cannot use (a length mismatch, a bad option)."""
    return error_response(ServiceError(422, "invalid_field", str(exc).strip('"'), "body"))


async def _unexpected_handler(request: Request, exc: Exception) -> Response:
    # A bug, never the client's input: logged with the endpoint only (the body may hold
    # certificates or serials, which are never logged).
    log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
    return error_response(ServiceError(500, "internal_error", "internal error (logged on the server)"))


def install(app: FastAPI) -> None:
    """Registers the handlers that turn every exception into a JSON error response."""
    from jpki_fast.errors import JpkiFastError

    app.add_exception_handler(ServiceError, _service_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(JpkiFastError, _library_error_handler)
    app.add_exception_handler(ValueError, _library_error_handler)
    app.add_exception_handler(TypeError, _library_error_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
    try:  # the batch codecs' error carries its own status and location
        from jpki_fast.wire import WireError
    except ImportError:  # pragma: no cover - until jpki_fast.wire lands
        return

    async def _wire_handler(request: Request, exc: WireError) -> Response:
        status = exc.http_status
        return error_response(ServiceError(status, _CODES.get(status, "error"), str(exc), exc.location))

    app.add_exception_handler(WireError, _wire_handler)
