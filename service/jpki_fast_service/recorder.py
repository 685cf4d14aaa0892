"""The one middleware: names the generation on every response, counts and times every request
(metrics) and writes its audit line after the response is sent.

A pure ASGI middleware (no per-request task or body copy). Endpoints tell it about their
answers with :func:`note`; the principal and the generation come from the auth and snapshot
dependencies through ``request.state``.
"""

from __future__ import annotations

import logging
import time

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics
from .audit import AuditLog, RequestFacts, now_text

log = logging.getLogger("jpki_fast_service")

GENERATION_HEADER = "X-Snapshot-Generation"
_GENERATION_HEADER = GENERATION_HEADER.lower().encode()
#: Probes and scrapes are counted in the metrics but not written to the audit log.
UNAUDITED = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


def note(request: Request, facts: RequestFacts) -> None:
    """Records what an endpoint answered, for the metrics and the audit log."""
    request.state.facts = facts


class Recorder:
    def __init__(self, app: ASGIApp, holder_of_state) -> None:
        self.app = app
        self._state = holder_of_state  # the FastAPI app's state: snapshots, audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500
        state = scope.setdefault("state", {})

        async def send_with_generation(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
                generation = state.get("generation")
                if generation is None:
                    snapshots = getattr(self._state, "snapshots", None)
                    generation = snapshots.generation if snapshots is not None else None
                if generation is not None:
                    message = dict(message)
                    message["headers"] = [*message.get("headers", []), (_GENERATION_HEADER, str(generation).encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_generation)
        finally:
            self._record(scope, state, code, time.perf_counter() - started)

    def _record(self, scope: Scope, state: dict, code: int, seconds: float) -> None:
        route = scope.get("route")
        endpoint = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        facts: RequestFacts | None = state.get("facts")
        try:
            metrics.REQUESTS.labels(endpoint, method, str(code)).inc()
            metrics.LATENCY.labels(endpoint).observe(seconds)
            if facts is not None:
                metrics.count_checks(endpoint, facts.counts)
        except Exception:  # metrics must never fail a request
            log.exception("metrics update failed")
        audit: AuditLog | None = getattr(self._state, "audit", None)
        if audit is None or endpoint in UNAUDITED or state.get("audit") is False:  # an endpoint may opt out (static assets)
            return
        principal = state.get("principal")
        client = scope.get("client")
        record = {
            "time": now_text(),
            "key_id": principal.id if principal is not None else None,
            "tenant": principal.tenant if principal is not None else None,
            "endpoint": endpoint,
            "method": method,
            "code": code,
            "items": facts.items if facts else 0,
            "counts": facts.counts if facts else {},
            "kinds": facts.kinds if facts else {},
            "generation": state.get("generation"),
            "duration_ms": round(seconds * 1000, 3),
            "client": client[0] if client else None,
        }
        if facts is not None and facts.subjects:
            record.update(facts.subjects)
        try:
            audit.append(record)
        except OSError:
            log.exception("audit log write failed")
