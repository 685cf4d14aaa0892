"""Admission control: how much one worker takes on at once, and for how long.

One ASGI middleware, per worker process (each worker has its own event loop and its own
counts; ``--workers N`` multiplies the totals by N):

- **Concurrent requests** (``--max-concurrent``, default 64 per worker): past it a request is
  answered at once ``503`` with ``Retry-After``, before its body is read; nothing queues
  without bound.
- **Concurrent large bodies** (``--max-concurrent-large``, default 4 per worker): requests
  declaring a body over :data:`LARGE_BODY` (1 MiB), or not declaring its length (chunked), take
  one of these slots too. With ``--max-body`` this bounds the memory a worker gives to request
  bodies: about ``max_concurrent_large x max_body`` plus ``max_concurrent x 1 MiB``, whatever
  clients send.
- **Request timeout** (``--request-timeout``, default 30 s): a request whose body has not
  arrived by then is answered ``408`` (a slow or stalled upload, "slowloris", gives its slot
  back); one whose answer has not started by then is answered ``503`` with ``Retry-After``.
  Work already running in a thread (the Rust core does not stop half-way) goes on to its end
  and keeps its slot until then, so the counts above are of work really in progress; its
  answer is dropped.

Probes and scrapes (``/healthz``, ``/readyz``, ``/metrics``) are exempt: a busy worker still
answers its load balancer. Every refusal is a JSON error like any other
(:mod:`jpki_fast_service.errors`), counted by the recorder under its status code.

>>> Admission(None, max_concurrent=2, max_large=1, timeout=5.0).in_flight
0
"""

from __future__ import annotations

import asyncio
import contextlib
import math

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ServiceError, error_response

#: A body declared larger than this (or of undeclared length) also takes a large-body slot.
LARGE_BODY = 1 << 20
#: Paths never refused or timed out here (they are cheap and say whether the worker lives).
EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})


def _body_size(scope: Scope) -> int | None:
    """The declared body length: 0 without a body, None when undeclared (chunked)."""
    length = chunked = None
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            length = value
        elif name == b"transfer-encoding":
            chunked = value
    if length is not None and length.isdigit():
        return int(length)
    return None if chunked is not None else 0


class Admission:
    """ASGI middleware enforcing the limits in the module docstring."""

    def __init__(self, app: ASGIApp, max_concurrent: int, max_large: int, timeout: float) -> None:
        self.app = app
        self.max_concurrent = max_concurrent
        self.max_large = max_large
        self.timeout = timeout
        self.in_flight = 0  # one event loop per worker: plain counters, no lock
        self.large_in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT:
            await self.app(scope, receive, send)
            return
        size = _body_size(scope)
        large = size is None or size > LARGE_BODY
        if self.in_flight >= self.max_concurrent:
            await error_response(busy(f"{self.max_concurrent:,} requests are in progress on this worker", "--max-concurrent"))(
                scope, receive, send
            )
            return
        if large and self.large_in_flight >= self.max_large:
            await error_response(
                busy(f"{self.max_large:,} requests with bodies over {LARGE_BODY // (1 << 20)} MiB are in progress on this worker",
                     "--max-concurrent-large")
            )(scope, receive, send)
            return
        self.in_flight += 1
        self.large_in_flight += large
        try:
            await self._within_deadline(scope, receive, send, body_pending=size != 0)
        finally:
            self.in_flight -= 1
            self.large_in_flight -= large

    async def _within_deadline(self, scope: Scope, receive: Receive, send: Send, body_pending: bool) -> None:
        state = {"body_pending": body_pending, "started": False, "expired": False}

        async def guarded_receive() -> Message:
            if state["expired"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                state["body_pending"] = False
            return message

        async def guarded_send(message: Message) -> None:
            if state["expired"]:
                return  # the client has had its answer (408 or 503); this one is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, guarded_receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=self.timeout)
        if task in done or state["started"]:
            await task  # finished, or already answering (a streamed answer is not cut)
            return
        state["expired"] = True
        if state["body_pending"]:
            # Still waiting for the client's bytes: nothing has been computed, stop now.
            task.cancel()
            response = error_response(ServiceError(
                408, "request_timeout",
                f"the request body did not arrive within {self.timeout:g} s (jpki-fast serve --request-timeout)", "body",
                headers={"Connection": "close"},
            ))
        else:
            response = error_response(busy(f"the answer was not ready within {self.timeout:g} s", "--request-timeout"))
        await response(scope, receive, send)
        # Work already handed to a thread runs to its end: hold the slot until then.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def busy(why: str, option: str, retry_after: float = 1.0) -> ServiceError:
    """503 with ``Retry-After`` (whole seconds) naming the limit that was reached."""
    return ServiceError(
        503, "busy", f"busy: {why} (jpki-fast serve {option}); retry after {math.ceil(retry_after)} s", None,
        headers={"Retry-After": str(math.ceil(retry_after))},
    )
