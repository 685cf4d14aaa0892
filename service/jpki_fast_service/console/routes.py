"""The console's HTTP side: ``/ui`` pages, the login form, the diff download and static assets.

Pages are rendered on the server (Jinja2): each reads without JavaScript; ``console.js`` only
sorts, filters and refreshes. Nothing is loaded from anywhere but this service, and the
Content-Security-Policy of every page says so to the browser (``default-src 'none'``, scripts,
styles and images from ``'self'`` only).

Who sees what (roles of the API key the operator logged in with, see :mod:`..auth`):

======================  ===================  ==================================================
page                    roles                what
======================  ===================  ==================================================
Overview ``/ui``        query or admin       generation, age, readiness, counts, alerts
Partitions              query or admin       every partition CRL, by prefecture
Changes                 query or admin       newly revoked per day by reason, last diff counts
  diff download         admin, no tenant     the list of changed serials (a tenant, its
                                             admin keys included, gets answers, never lists)
Check                   query                serials or a certificate, through the API itself
Audit                   admin                requests per key and endpoint per day (a
                                             tenant-bound admin key: its tenant's only), and
                                             the audit chain's verification
======================  ===================  ==================================================
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import anyio
import httpx
import jpki_fast
import orjson
import pyarrow as pa
from fastapi import APIRouter, FastAPI, Request
from fastapi.templating import Jinja2Templates
from jpki_fast import history
from jpki_fast.errors import StoreError
from jpki_fast.meanings import explain
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from ..auth import HEADER, Principal
from . import charts, i18n, pages
from .rows import partition_rows_html
from .session import COOKIE, LOGIN_COOKIE, Sessions, clear_cookie, same_origin, same_token, set_cookie

HERE = Path(__file__).parent
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
STATIC = {p.name: p.read_bytes() for p in sorted((HERE / "static").iterdir()) if p.suffix in STATIC_TYPES}
VERSIONS = {name: hashlib.sha256(body).hexdigest()[:12] for name, body in STATIC.items()}
#: The login page cannot load the stylesheet (assets need a session): it carries it inline,
#: allowed by its hash in that page's Content-Security-Policy.
LOGIN_CSS = STATIC["console.css"].decode("utf-8")
LOGIN_CSS_HASH = base64.b64encode(hashlib.sha256(LOGIN_CSS.encode("utf-8")).digest()).decode()

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
LOGIN_CSP = (
    f"default-src 'none'; style-src 'sha256-{LOGIN_CSS_HASH}'; img-src data:; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)

#: How the sign-in and sign-out forms are read. They hold a key, a token and a console path, no
#: file, and are read before any key is known, so nothing else bounds them (docs/SECURITY.md F12):
#: a file part is refused before Starlette spools it, a field over 4 KiB as soon as it passes that.
SMALL_FORM = {"max_files": 0, "max_fields": 8, "max_part_size": 4096}
#: Serials one form may check (the console is for spot checks; batches go to POST /v1/status).
MAX_FORM_SERIALS = 10_000
#: Rows of results a page shows (the counts cover all of them).
MAX_SHOWN = 1_000
MAX_CERTIFICATE = 1 << 20
VIEWERS = ("query", "admin")

NAV = (
    ("overview", "/ui", VIEWERS),
    ("partitions", "/ui/partitions", VIEWERS),
    ("changes", "/ui/changes", VIEWERS),
    ("check", "/ui/check", ("query",)),
    ("audit", "/ui/audit", ("admin",)),
)


@dataclass(frozen=True)
class Login:
    principal: Principal
    key: str
    csrf: str

    def may(self, roles: tuple[str, ...]) -> bool:
        return any(self.principal.has(r) for r in roles)


class Console:
    """The console of one application: its session keeper, templates, history and audit caches."""

    def __init__(self, app: FastAPI) -> None:
        config = app.state.config
        console = (config.extra or {}).get("console") or {}
        keys = config.resolved_api_keys()
        secret = Path(console["session_key"]) if console.get("session_key") else keys.with_name(keys.name + ".session-key")
        self.sessions = Sessions(secret, int(console.get("session_ttl", 8 * 3600)))
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals.update(static=lambda name: f"/ui/static/{name}?v={VERSIONS[name]}", login_css=LOGIN_CSS)
        self.templates.env.trim_blocks = True
        self.templates.env.lstrip_blocks = True
        self.audit_counts: pages.AuditCounts | None = None

    # ---- sessions ----

    def login_of(self, request: Request) -> Login | None:
        session = self.sessions.open(request.cookies.get(COOKIE))
        if session is None:
            return None
        principal = request.app.state.keys.lookup(session.key)
        if principal is None:
            return None  # the key was removed from the key file: the session ends with it
        request.state.principal = principal  # the audit log names who viewed the page
        return Login(principal, session.key, session.csrf)

    # ---- rendering ----

    def render(self, request: Request, name: str, context: dict, *, status: int = 200, login: Login | None = None,
               csp: str = CSP) -> Response:
        lang = i18n.choose(request)
        t = i18n.Translator(lang)
        nav = [(key, href, login is not None and login.may(roles)) for key, href, roles in NAV]
        query = {k: v for k, v in request.query_params.items() if k != "lang"}
        switch = {other: f"{request.url.path}?{urlencode({**query, 'lang': other})}" for other in i18n.LANGS}
        html = self.templates.get_template(name).render({
            "request": request, "t": t, "_": t.gettext, "lang": lang, "login": login, "nav": nav,
            "path": request.url.path, "switch": switch, "version": jpki_fast.__version__, **context,
        })
        response = _compressed(request, html.encode("utf-8"), status, "text/html; charset=utf-8")
        _secure_headers(response, csp)
        if request.query_params.get("lang") in i18n.LANGS:
            set_cookie(response, request, i18n.COOKIE, lang, max_age=365 * 86400)
        return response

    def denied(self, request: Request, login: Login, roles: tuple[str, ...]) -> Response:
        return self.render(request, "denied.html", {"roles": roles, "page_title": "Not allowed"}, status=403, login=login)

    def gate(self, request: Request, roles: tuple[str, ...]) -> Login | Response:
        """The login of a page request, or the answer instead of the page: to the login form
        without a session, 403 without a role the page needs."""
        login = self.login_of(request)
        if login is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/ui/login?{urlencode({'next': target})}", status_code=303)
        if not login.may(roles):
            return self.denied(request, login, roles)
        return login

    # ---- the audit log's counts, one reader per application ----

    def audit(self, request: Request) -> pages.AuditCounts:
        path = request.app.state.audit.path if request.app.state.audit is not None else request.app.state.config.resolved_audit_log()
        if self.audit_counts is None or self.audit_counts.path != Path(path):
            self.audit_counts = pages.AuditCounts(Path(path))
        return self.audit_counts


def _secure_headers(response: Response, csp: str) -> None:
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")


def _compressed(request: Request, body: bytes, status: int, media_type: str) -> Response:
    """gzip for the browsers that take it (the partitions page is ~1 MB of HTML for 3,800 rows)."""
    headers = {"Vary": "Accept-Encoding"}
    if len(body) > 4096 and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=4)
        headers["Content-Encoding"] = "gzip"
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a console path only (no open redirect)."""
    if target and target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui"


def _now() -> int:
    return int(time.time())


def _may_download(principal: Principal) -> bool:
    """The diff is a list of serials: the platform's, for admin keys bound to no tenant. A
    tenant (its admin keys included) gets answers, never lists (docs/SECURITY.md)."""
    return principal.has("admin") and principal.tenant is None


def router(app: FastAPI) -> APIRouter:
    """The console's router for ``app`` (the entry point ``jpki_fast_service.routers`` calls it)."""
    console = Console(app)
    r = APIRouter(include_in_schema=False)

    # ---- login ----

    @r.get("/ui/login")
    async def login_form(request: Request, next: str = "/ui"):
        login = console.login_of(request)
        if login is not None:
            return RedirectResponse(_safe_next(next), status_code=303)
        return _login_page(request, next, None, 200)

    def _login_page(request: Request, target: str, error: str | None, status: int) -> Response:
        token = secrets.token_urlsafe(24)
        response = console.render(request, "login.html", {"next": _safe_next(target), "error": error, "login_token": token,
                                                           "hours": max(1, console.sessions.ttl // 3600), "page_title": "Sign in"},
                                  status=status, csp=LOGIN_CSP)
        set_cookie(response, request, LOGIN_COOKIE, token, path="/ui/login", max_age=3600)
        return response

    @r.post("/ui/login")
    async def login_submit(request: Request):
        form = await request.form(**SMALL_FORM)
        target = str(form.get("next") or "/ui")
        if not same_origin(request) or not same_token(request.cookies.get(LOGIN_COOKIE), str(form.get("login_token") or "")):
            return _login_page(request, target, "expired", 400)
        key = str(form.get("api_key") or "").strip()
        principal = request.app.state.keys.lookup(key)
        if principal is None:
            return _login_page(request, target, "unknown_key", 401)
        request.state.principal = principal
        response = RedirectResponse(_safe_next(target), status_code=303)
        set_cookie(response, request, COOKIE, console.sessions.issue(key))
        clear_cookie(response, request, LOGIN_COOKIE, path="/ui/login")
        _secure_headers(response, CSP)
        return response

    @r.post("/ui/logout")
    async def logout(request: Request):
        form = await request.form(**SMALL_FORM)
        login = console.login_of(request)
        if login is not None and (not same_origin(request) or not same_token(login.csrf, str(form.get("csrf") or ""))):
            return Response("CSRF check failed: reload the page and try again", status_code=403, media_type="text/plain")
        response = RedirectResponse("/ui/login", status_code=303)
        clear_cookie(response, request, COOKIE)
        _secure_headers(response, CSP)
        return response

    # ---- static assets (behind the session too) ----

    @r.get("/ui/static/{name}")
    async def static(request: Request, name: str):
        request.state.audit = False  # assets are not operations: kept out of the audit log
        body = STATIC.get(name)
        if body is None:
            return Response("not found", status_code=404, media_type="text/plain")
        if console.login_of(request) is None and request.app.state.keys.lookup(request.headers.get(HEADER)) is None:
            return Response("sign in at /ui/login first", status_code=401, media_type="text/plain")
        etag = f'"{VERSIONS[name]}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        response = _compressed(request, body, 200, STATIC_TYPES[Path(name).suffix])
        response.headers["ETag"] = etag
        response.headers["Cache-Control"] = "private, max-age=86400"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # ---- overview ----

    @r.get("/ui")
    async def overview(request: Request):
        login = console.gate(request, VIEWERS)
        if not isinstance(login, Login):
            return login
        holder = request.app.state.snapshots
        store = holder.store
        request.state.generation = store.generation
        now_s = _now()
        rows = pages.partition_rows(store, now_s)
        facts = pages.overview(store, rows, stale_grace=request.app.state.config.stale_grace, now_s=now_s, last_error=holder.last_error)
        try:  # ?refresh=N: the script reloads the numbers every N seconds (default 30)
            refresh = min(3600, max(2, int(request.query_params.get("refresh", "30"))))
        except ValueError:
            refresh = 30
        return console.render(request, "overview.html", {"o": facts, "loaded_at": int(holder.loaded_at), "refresh": refresh,
                                                         "page_title": "Overview", "page": "overview"}, login=login)

    # ---- partitions ----

    @r.get("/ui/partitions")
    async def partitions(request: Request):
        login = console.gate(request, VIEWERS)
        if not isinstance(login, Login):
            return login
        store = request.app.state.snapshots.store
        request.state.generation = store.generation
        now_s = _now()
        rows = pages.partition_rows(store, now_s)
        query = pages.PartitionQuery.from_params(request.query_params)
        groups = pages.group_partitions(rows, query)
        shown = sum(len(g.rows) for g in groups)
        states = {s: sum(1 for r in rows if r["state"] == s) for s in pages.STATES}
        return console.render(request, "partitions.html", {
            "groups": groups, "query": query, "total": len(rows), "shown": shown, "states": states,
            "issuers": sorted({r["issuer"] for r in rows}), "prefectures": pages.prefectures_present(rows),
            "generation": store.generation, "checked_at": now_s, "page_title": "Partitions", "page": "partitions",
            "sort_link": lambda column: _sort_link(request, query, column),
            "rows_html": lambda group_rows: partition_rows_html(group_rows, i18n.Translator(i18n.choose(request))),
        }, login=login)

    # ---- changes ----

    @r.get("/ui/changes")
    async def changes(request: Request):
        login = console.gate(request, VIEWERS)
        if not isinstance(login, Login):
            return login
        store = request.app.state.snapshots.store
        request.state.generation = store.generation
        facts = await anyio.to_thread.run_sync(lambda: pages.changes(store))
        labels = [d["day"].strftime("%m-%d") for d in facts["days"]]
        values = {reason: [d["added"].get(reason, 0) for d in facts["days"]] for reason in facts["reasons"]}
        chart = charts.stacked_bars(labels, values, facts["reasons"]) if facts["days"] else None
        return console.render(request, "changes.html", {
            "c": facts, "chart": chart, "may_download": _may_download(login.principal), "generation": store.generation,
            "page_title": "Changes", "page": "changes",
        }, login=login)

    @r.get("/ui/changes/diff")
    async def diff_download(request: Request, format: str = "csv", generation: int | None = None, parent: int | None = None):
        login = console.gate(request, ("admin",))
        if not isinstance(login, Login):
            return login
        if not _may_download(login.principal):
            return console.denied(request, login, ("admin",))
        if format not in ("csv", "parquet"):
            return Response("format: csv or parquet", status_code=422, media_type="text/plain")
        store = request.app.state.snapshots.store
        request.state.generation = store.generation
        to_generation = generation if generation is not None else store.generation
        try:
            body = await anyio.to_thread.run_sync(lambda: _diff_file(store.root, parent, to_generation, format))
        except StoreError as exc:
            return Response(f"no diff: {exc}", status_code=404, media_type="text/plain")
        data, frm, to = body
        name = f"jpki-fast-diff-{frm}-{to}.{format}"
        media = "text/csv; charset=utf-8" if format == "csv" else "application/vnd.apache.parquet"
        return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                         "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    # ---- check ----

    @r.get("/ui/check")
    async def check_form(request: Request):
        login = console.gate(request, ("query",))
        if not isinstance(login, Login):
            return login
        return _check_page(request, login, {})

    def _check_page(request: Request, login: Login, result: dict, status: int = 200) -> Response:
        store = request.app.state.snapshots.store
        issuers = store.issuers()
        default = next((i.alias for i in issuers if i.entries or i.long_entries), issuers[0].alias if issuers else "")
        return console.render(request, "check.html", {
            "issuers": issuers, "default_issuer": default, "r": result, "max_serials": MAX_FORM_SERIALS,
            "page_title": "Check", "page": "check",
        }, status=status, login=login)

    @r.post("/ui/check")
    async def check_submit(request: Request):
        login = console.gate(request, ("query",))
        if not isinstance(login, Login):
            return login
        form = await request.form()
        if not same_origin(request) or not same_token(login.csrf, str(form.get("csrf") or "")):
            return _check_page(request, login, {"error": "csrf"}, 403)
        mode = "certificate" if form.get("mode") == "certificate" else "serials"
        lang = i18n.choose(request)
        if mode == "serials":
            text = str(form.get("serials") or "")
            serials = [s for s in re.split(r"[\s,;]+", text) if s]
            kept = {"mode": mode, "serials": text[:200_000], "issuer": str(form.get("issuer") or ""),
                    "provenance": bool(form.get("provenance"))}
            if not serials:
                return _check_page(request, login, {**kept, "error": "no_serials"}, 422)
            if len(serials) > MAX_FORM_SERIALS:
                return _check_page(request, login, {**kept, "error": "too_many", "count": len(serials)}, 413)
            body = {"issuer": kept["issuer"], "serials": serials, "provenance": kept["provenance"]}
            answer = await _api(request, login, "/v1/status", body)
        else:
            purpose = str(form.get("purpose") or "")
            kept = {"mode": mode, "purpose": purpose}
            upload = form.get("certificate")
            raw = b""
            if isinstance(upload, UploadFile):
                raw = await upload.read(MAX_CERTIFICATE + 1)
            pasted = str(form.get("certificate_text") or "").strip()
            if not raw and pasted:
                raw = pasted.encode("utf-8", "replace")
            if not raw:
                return _check_page(request, login, {**kept, "error": "no_certificate"}, 422)
            if len(raw) > MAX_CERTIFICATE:
                return _check_page(request, login, {**kept, "error": "certificate_too_large"}, 413)
            stripped = raw.lstrip()
            if stripped.startswith(b"-----BEGIN"):
                text = stripped.decode("ascii", "replace")
            elif re.fullmatch(rb"[A-Za-z0-9+/=\s]+", stripped):
                text = stripped.decode("ascii")  # base64 DER pasted as text
            else:
                text = base64.b64encode(raw).decode("ascii")
            body = {"certificates": [text], "purpose": purpose if purpose in ("login", "signature") else None}
            answer = await _api(request, login, "/v1/certificates/status", body)
        status, data = answer
        result = {**kept, "status": status, "answer": data, "raw": orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()}
        if status == 200:
            rows = data.get("results", [])
            result["counts"] = _count_statuses(rows)
            result["rows"] = _with_meanings(request, rows[:MAX_SHOWN], lang)
            result["more"] = max(0, len(rows) - MAX_SHOWN)
            if len(result["raw"]) > 200_000:
                result["raw"] = result["raw"][:200_000] + "\n…"
        return _check_page(request, login, result, 200 if status == 200 else status)

    # ---- audit ----

    @r.get("/ui/audit")
    async def audit(request: Request, days: int = 7):
        login = console.gate(request, ("admin",))
        if not isinstance(login, Login):
            return login
        days = days if days in (7, 14, 30) else 7
        counts = console.audit(request)
        now_s = _now()
        span = pages.last_days(now_s, days)
        tenant = login.principal.tenant
        usage = await anyio.to_thread.run_sync(lambda: counts.usage(span, tenant))
        verification, checked = await anyio.to_thread.run_sync(lambda: counts.verification())
        per_key: dict[str, list[int]] = {}
        for row in usage:
            series = per_key.setdefault(row["key_id"] or "-", [0] * len(span))
            for i, day in enumerate(span):
                series[i] += row["per_day"][day]
        order = sorted(per_key, key=lambda k: -sum(per_key[k]))
        colours = dict(zip(order, charts.SERIES_COLOURS))
        chart = charts.stacked_bars([d.strftime("%m-%d") for d in span], per_key, order, colours=colours, height=240)
        return console.render(request, "audit.html", {
            "usage": usage, "span": span, "days": days, "verification": verification, "checked": checked,
            "chart": chart, "tenant": tenant, "log_path": str(counts.path), "now_s": now_s,
            "key_label": lambda key: i18n.Translator(i18n.choose(request)).gettext("(no key)") if key == "-" else key,
            "page_title": "Audit", "page": "audit",
        }, login=login)

    @r.post("/ui/audit/verify")
    async def audit_verify(request: Request):
        login = console.gate(request, ("admin",))
        if not isinstance(login, Login):
            return login
        form = await request.form()
        if not same_origin(request) or not same_token(login.csrf, str(form.get("csrf") or "")):
            return Response("CSRF check failed: reload the page and try again", status_code=403, media_type="text/plain")
        counts = console.audit(request)
        await anyio.to_thread.run_sync(lambda: counts.verification(force=True))
        return RedirectResponse("/ui/audit", status_code=303)

    return r


def _sort_link(request: Request, query: pages.PartitionQuery, column: str) -> str:
    params = {k: v for k, v in request.query_params.items() if k not in ("sort", "order", "lang")}
    params["sort"] = column
    params["order"] = "desc" if query.sort == column and query.order == "asc" else "asc"
    return f"/ui/partitions?{urlencode(params)}"


async def _api(request: Request, login: Login, path: str, body: dict) -> tuple[int, dict]:
    """Asks the service's own API, in process, with the operator's key: the answer, its roles,
    limits, audit line and metrics are exactly the API's."""
    client = request.client
    transport = httpx.ASGITransport(app=request.app, client=(client.host, client.port) if client else ("127.0.0.1", 0))
    async with httpx.AsyncClient(transport=transport, base_url="http://console.local") as api:
        response = await api.post(path, content=orjson.dumps(body), headers={HEADER: login.key, "Content-Type": "application/json"})
    try:
        data = response.json()
    except ValueError:
        data = {"message": response.text[:500]}
    return response.status_code, data


def _count_statuses(rows: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        key = row.get("decision") or row.get("status")
        counts[key] = counts.get(key, 0) + 1
    return counts


def _with_meanings(request: Request, rows: list[dict], lang: str) -> list[dict]:
    """Adds what each status and reason means (the library's JPKI reading of them)."""
    if not rows:
        return rows
    kinds = {i.alias: i.kind for i in request.app.state.snapshots.store.issuers()}
    statuses = pa.array([r.get("status") for r in rows], pa.string())
    reasons = pa.array([r.get("reason") for r in rows], pa.string())
    kind = pa.array([r.get("kind") or kinds.get(r.get("issuer")) for r in rows], pa.string())
    try:
        meaning = explain(statuses, reasons, kind)[f"meaning_{lang}"].to_pylist()
    except (ValueError, KeyError):
        meaning = [None] * len(rows)
    return [{**row, "meaning": m} for row, m in zip(rows, meaning)]


def _diff_file(root: Path, parent: int | None, generation: int, format: str) -> tuple[bytes, int, int]:
    table = history.diff(root, parent, generation)
    meta = table.schema.metadata or {}
    frm = int(meta.get(b"from_generation", b"0"))
    to = int(meta.get(b"to_generation", str(generation).encode()))
    plain = table.cast(pa.schema([
        pa.field(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type) for f in table.schema
    ]))
    sink = pa.BufferOutputStream()
    if format == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(plain, sink, compression="zstd")
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(plain, sink)
    return sink.getvalue().to_pybytes(), frm, to


