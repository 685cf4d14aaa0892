"""Limits as dependencies: items per request, and the content type of JSON bodies.

The byte limit of a body (``--max-body``) is enforced while it is received, before anything
parses it (:class:`BodyLimit`: at once from Content-Length, else as the bytes arrive); the item
limit (``--max-items``) once the number of items is known::

    @router.post("/v1/thing", dependencies=[Depends(json_body)])
    def thing(body: ThingRequest, limit: Limits = Depends(limits)):
        limit.items(len(body.things), "/things")       # 413 beyond --max-items
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ServiceError, error_response


@dataclass(frozen=True)
class Limits:
    max_items: int
    max_body: int

    def items(self, n: int, location: str) -> None:
        if n > self.max_items:
            raise ServiceError(
                413,
                "too_large",
                f"{location}: {n:,} items exceed the limit of {self.max_items:,} per request (jpki-fast serve --max-items)",
                location,
            )


async def limits(request: Request) -> Limits:
    config = request.app.state.config
    return Limits(config.max_items, config.max_body)


def known_query(*names: str):
    """A dependency refusing query parameters the endpoint does not take (422): a misspelt
    ``?form=`` must not silently mean "no lower bound"."""
    allowed = frozenset(names)

    async def dependency(request: Request) -> None:
        for name in request.query_params:
            if name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise ServiceError(422, "invalid_field", f"query/{name}: unknown query parameter (known: {known})", f"query/{name}")

    return dependency


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def json_body(request: Request) -> None:
    """415 unless the body is declared JSON (``application/json`` or ``+json``)."""
    kind = media_type(request)
    if kind != "application/json" and not kind.endswith("+json"):
        shown = kind or "none"
        raise ServiceError(415, "unsupported_media_type", f"Content-Type {shown}: send application/json", "header/Content-Type")


class BodyTooLarge(HTTPException):
    """Raised while the body is received (FastAPI passes HTTPExceptions from body reading on
    to the error handlers, which answer 413 naming the limit)."""

    def __init__(self) -> None:
        super().__init__(413, "request body too large")


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_body`` bytes, before it is read or parsed."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            response = error_response(too_large(self.max_body))
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited, send)


def too_large(max_body: int) -> ServiceError:
    return ServiceError(413, "too_large", f"the request body exceeds the limit of {max_body:,} bytes (jpki-fast serve --max-body)", "body")
