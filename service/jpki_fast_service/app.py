"""The application factory.

>>> from jpki_fast_service import ServiceConfig, create_app          # doctest: +SKIP
>>> app = create_app(ServiceConfig(store=Path("demo-data/store")))   # doctest: +SKIP

Each resource has its router (``jpki_fast_service.routers``); auth (:func:`.auth.require`),
limits (:mod:`.limits`) and the snapshot a request answers from (:func:`.snapshots.current_store`)
are dependencies; request and response bodies are in :mod:`.models`; one middleware
(:mod:`.recorder`) does metrics, the audit log and the generation header, another
(:mod:`.admission`) bounds the requests in progress and their time.

Another component (the OCSP responder, the operator console) plugs in its own router, either
passed to :func:`create_app` (``routers=[...]``) or registered by its distribution under the
entry point group ``jpki_fast_service.routers`` (a callable taking the app and returning an
``APIRouter``, or an ``APIRouter``), and uses the same dependencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Callable, Iterable

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline

import jpki_fast

from . import errors, metrics
from .admission import Admission
from .audit import AuditLog, load_or_create_key
from .auth import KeyRing
from .config import ServiceConfig
from .limits import BodyLimit
from .recorder import Recorder
from .snapshots import SnapshotHolder

log = logging.getLogger("jpki_fast_service")

ROUTER_ENTRY_POINTS = "jpki_fast_service.routers"

DESCRIPTION = """\
Revocation checks for JPKI (公的個人認証サービス) certificates, answered from the published,
memory-mapped snapshot of a jpki-fast store. Every response names the snapshot generation it
comes from (`X-Snapshot-Generation`). Authenticate with an API key in `X-API-Key`.
"""

TAGS = [
    {"name": "status", "description": "Batch status of serials (JSON or Arrow IPC)"},
    {"name": "certificates", "description": "Certificate status: path, validity, usage, revocation"},
    {"name": "logins", "description": "Login gating: the card's signature over a challenge, and the certificate's status"},
    {"name": "signatures", "description": "Signed documents"},
    {"name": "age", "description": "Age checks (年齢判定) from signing certificates"},
    {"name": "snapshot", "description": "What the served snapshot holds (counts and freshness, never entries)"},
    {"name": "admin", "description": "Reload and usage (admin role)"},
    {"name": "health", "description": "Liveness, readiness and metrics"},
]


def default_routers() -> list[APIRouter]:
    from .routers import admin, age, certificates, health, logins, signatures, snapshot

    routers = [certificates.router, logins.router, signatures.router, age.router, snapshot.router, admin.router, health.router]
    try:
        from .routers import status
    except ImportError as exc:  # jpki_fast.wire (the batch codecs) not installed yet
        log.warning("POST /v1/status is unavailable: %s", exc)
        return routers
    return [status.router, *routers]


def _plugin_routers(app: FastAPI) -> list[APIRouter]:
    from importlib.metadata import entry_points

    found = []
    for ep in entry_points(group=ROUTER_ENTRY_POINTS):
        value = ep.load()
        found.append(value if isinstance(value, APIRouter) else value(app))
    return found


def _key_file_follower(app: FastAPI) -> Callable[[], None]:
    """Reloads the API key file when it changes (keys added with `jpki-fast keys add` take
    effect without a restart); a damaged file keeps the keys already loaded."""
    path = app.state.config.resolved_api_keys()
    seen = [_mtime(path)]

    def check() -> None:
        mtime = _mtime(path)
        if mtime != seen[0]:
            seen[0] = mtime
            try:
                app.state.keys = KeyRing.load(path)
                log.info("API keys reloaded from %s (%d keys)", path, len(app.state.keys))
            except ValueError as exc:
                log.error("API key file not reloaded, keeping the previous keys: %s", exc)

    return check


def _mtime(path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _on_swap(store: jpki_fast.Store, previous: int) -> None:
    from .routers.snapshot import summary

    info = summary(store)
    metrics.snapshot_loaded(store.generation, info.published_epoch)
    if previous:
        metrics.RELOADS.labels("loaded").inc()


def create_app(config: ServiceConfig | None = None, *, routers: Iterable[APIRouter] = ()) -> FastAPI:
    """Builds the application for ``config`` (default: from ``JPKI_FAST_SERVICE_CONFIG``, as
    worker processes get it). Opens the store and the key file at once, so a bad setting
    fails here, not at the first request."""
    config = config or ServiceConfig.from_env()
    keys = KeyRing.load(config.resolved_api_keys())
    holder = SnapshotHolder(config.store, on_swap=_on_swap, verify=config.verify_snapshots,
                            on_failure=lambda: metrics.RELOADS.labels("failed").inc())
    audit_path = config.resolved_audit_log()
    audit = AuditLog(audit_path, load_or_create_key(config.resolved_audit_key()), config.audit_items)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        follower = asyncio.create_task(holder.follow(config.reload_interval, also=_key_file_follower(app)))
        try:
            yield
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            audit.close()
            metrics.worker_exit()

    app = _application(lifespan)
    app.state.config = config
    app.state.keys = keys
    app.state.snapshots = holder
    app.state.audit = audit
    app.add_middleware(BodyLimit, max_body=config.max_body)
    app.add_middleware(Admission, max_concurrent=config.max_concurrent, max_large=config.max_concurrent_large,
                       timeout=config.request_timeout)
    app.add_middleware(Recorder, holder_of_state=app.state)  # added last: outermost, sees every answer
    for router in [*routers, *_plugin_routers(app)]:
        app.include_router(router)
    return app


#: Where /docs and /redoc load their scripts, styles and icon from (public, like the pages).
DOCS_ASSETS = "/docs/assets"


def _application(lifespan=None) -> FastAPI:
    """The FastAPI object with the default routers and error handlers (no state yet)."""
    # FastAPIOffline: /docs and /redoc with Swagger UI and ReDoc served from this service
    # (DOCS_ASSETS), not from a CDN: nothing a page loads leaves the server.
    app = FastAPIOffline(title="jpki-fast", version=jpki_fast.__version__, description=DESCRIPTION, openapi_tags=TAGS,
                         lifespan=lifespan, static_url=DOCS_ASSETS)
    errors.install(app)
    for router in default_routers():
        app.include_router(router)
    _document_raw_bodies(app)
    return app


def openapi_schema() -> dict:
    """The OpenAPI schema of the default endpoints, without opening a store (for tooling)."""
    return _application().openapi()


def create_app_from_env() -> FastAPI:
    """The factory the server's workers call (configuration from the environment)."""
    return create_app()


#: Peers whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed: uvicorn's variable and
#: default, so that both servers take the client address and scheme from a local TLS proxy alike
#: (docs/SECURITY.md "Client addresses behind a proxy").
FORWARDED_ALLOW_IPS_ENV = "FORWARDED_ALLOW_IPS"
DEFAULT_FORWARDED_ALLOW_IPS = "127.0.0.1,::1"


def create_app_behind_proxy_from_env():
    """granian's factory: :func:`create_app_from_env` wrapped in granian's proxy-header handling
    (uvicorn applies its own by default), trusting the peers in ``FORWARDED_ALLOW_IPS``."""
    from granian.utils.proxies import wrap_asgi_with_proxy_headers

    trusted = os.environ.get(FORWARDED_ALLOW_IPS_ENV, DEFAULT_FORWARDED_ALLOW_IPS)
    return wrap_asgi_with_proxy_headers(create_app(), trusted_hosts=trusted)


def _document_raw_bodies(app: FastAPI) -> None:
    """Adds the models of bodies read raw (``POST /v1/status``) to the OpenAPI components."""
    from .models import StatusRequest

    original = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        model_schema = StatusRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in model_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault("StatusRequest", model_schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
