"""Security review checks (docs/SECURITY.md): every route but the probes and the sign-in form
needs a key or a session; no secret, certificate or clear serial in logs, audit lines or error
bodies, with real serials and the real JPKI certificate in the requests; no request reaches a
file outside the store."""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from jpki_fast_service import ServiceConfig, create_app
from jpki_fast_service.ocsp_settings import OcspSettings
from . import ocsp_world
from .svc_helpers import NOW, b64, load_key, login_body

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "jpki"

#: Routes answered without a key or session, and why (docs/SECURITY.md "What is public, and why").
PUBLIC = {
    ("GET", "/healthz"): "liveness probe: says nothing about any tenant",
    ("GET", "/readyz"): "readiness probe: generation and freshness counts",
    ("GET", "/metrics"): "Prometheus scrape: counts by endpoint and status, no tenant label",
    ("GET", "/openapi.json"): "the schema", ("GET", "/docs"): "the schema", ("GET", "/redoc"): "the schema",
    ("GET", "/docs/oauth2-redirect"): "the schema's page",
    ("GET", "/ui/login"): "the sign-in form", ("POST", "/ui/login"): "signing in (checks the key)",
    ("POST", "/ui/logout"): "clears the session cookie",
}
#: OCSP is open by default (relying parties' software sends no key); with --ocsp-auth key it is not.
OCSP_ROUTES = {("POST", "/ocsp"), ("POST", "/ocsp/"), ("GET", "/ocsp/{encoded}")}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return ocsp_world.build(tmp_path_factory.mktemp("security"))


def _app(world, tmp_path_factory, auth: str):
    audit = tmp_path_factory.mktemp("security-audit") / "audit.jsonl"
    settings = OcspSettings(tuple(world.pairs()), auth, 1 << 20)
    return create_app(ServiceConfig(store=world.store, api_keys=world.key_file, audit_log=audit, extra=settings.to_extra()))


def _routes(app) -> list[tuple[str, str]]:
    out = []
    todo = list(app.routes)
    while todo:
        route = todo.pop(0)
        inner = getattr(route, "original_router", None)  # FastAPI 0.16x keeps included routers whole
        if inner is not None:
            todo.extend(inner.routes)
            continue
        if isinstance(route, (APIRoute, Route)):
            for method in sorted(route.methods or ()):
                if method not in ("HEAD", "OPTIONS"):
                    out.append((method, re.sub(r":\w+\}", "}", route.path)))
    return out


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.mark.parametrize("ocsp_auth", ["open", "key"])
def test_every_route_but_the_public_ones_needs_a_key_or_a_session(world, tmp_path_factory, ocsp_auth):
    """Walks every route the application has (the OpenAPI schema's, the console's, the plugins'),
    without credentials and with a wrong key: 401, or for console pages a redirect to the
    sign-in form. A new route is public only by being listed in PUBLIC, with its reason."""
    app = _app(world, tmp_path_factory, ocsp_auth)
    routes = _routes(app)
    schema_paths = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert schema_paths <= set(routes), schema_paths - set(routes)
    assert set(routes) >= OCSP_ROUTES and ("GET", "/ui") in routes  # the plugins are there
    public = set(PUBLIC) | (OCSP_ROUTES if ocsp_auth == "open" else set())
    checked = 0
    with TestClient(app, follow_redirects=False) as c:
        for method, path in routes:
            if (method, path) in public:
                continue
            for headers in ({}, {"X-API-Key": "jpkf_wrong"}):
                r = c.request(method, _concrete(path), headers=headers, **({"json": {}} if method == "POST" else {}))
                if path == "/ui/static/{name}":  # an unknown asset name: 404 before the sign-in check, no content
                    ok = r.status_code in (401, 404) and len(r.content) < 64
                elif path.startswith("/ui"):
                    ok = r.status_code == 401 or (r.status_code == 303 and r.headers["location"].startswith("/ui/login"))
                else:
                    ok = r.status_code == 401 and r.headers.get("www-authenticate") == "X-API-Key"
                assert ok, (method, path, headers, r.status_code, r.text[:200])
                checked += 1
        for method, path in sorted(public):  # and the public ones do answer without a key
            r = c.request(method, _concrete(path), **({"data": {}} if method == "POST" else {}))
            assert r.status_code not in (401, 403, 500), (method, path, r.status_code)
    assert checked >= 2 * 15, checked


def _forms(serial: str) -> list[str]:
    """The ways a serial can be written (canonical, lower case, with colons, without zeros)."""
    colons = ":".join(serial[i:i + 2] for i in range(0, len(serial), 2))
    return [serial, serial.lower(), colons, colons.lower(), serial.lstrip("0")]


def test_no_secret_certificate_or_clear_serial_in_logs_audit_lines_or_error_bodies(world, tmp_path_factory, caplog, capfd):
    """Requests carrying real serials (revoked ones of the synthetic CA), the real JPKI
    certificate (tests/vectors/jpki) and API keys, well-formed and not: the answers' error
    bodies and ``detail`` fields, every log record (all loggers, DEBUG), the process's stderr
    and the audit log hold none of them in clear."""
    app = _app(world, tmp_path_factory, "key")
    key = world.keys["query"]
    h = {"X-API-Key": key}
    serials = [r["serial"] for r in world.revoked_serials("auth_ca_2023")[:3]]
    real = (VECTORS / "auth_cert_sample.der").read_bytes()
    real_b64 = base64.b64encode(real).decode()
    synthetic = (world.data / world.certs[0]["path"]).read_bytes()
    s0 = serials[0]
    requests = [
        ("post", "/v1/status", {"json": {"issuer": "auth_ca_2023", "serials": serials, "now": "garbage"}}),
        ("post", "/v1/status", {"content": f'{{"issuer":"auth_ca_2023","serials":["{s0}"'.encode(), "headers": {"Content-Type": "application/json"}}),  # noqa: E501
        ("post", "/v1/status", {"json": {"issuer": "auth_ca_2023", "serials": [s0 * 6, s0 + "zz", s0], "now": NOW}}),
        ("post", "/v1/status", {"json": {"items": [{"issuer": s0, "serial": s0}], "now": NOW}}),
        ("post", "/v1/status", {"content": b"ARROW1" + bytes.fromhex(s0) * 50, "headers": {"Content-Type": "application/vnd.apache.arrow.stream"}}),  # noqa: E501
        ("post", "/v1/status", {"json": {"issuer": "auth_ca_2023", "serials": serials, "provenance": s0}}),
        ("post", "/v1/certificates/status", {"json": {"certificates": [real_b64], "now": NOW}}),
        ("post", "/v1/certificates/status", {"json": {"certificates": [real_b64[: len(real_b64) // 2]], "now": NOW}}),
        ("post", "/v1/certificates/status", {"json": {"certificates": [real_b64 + "!"], "now": NOW}}),
        ("post", "/v1/certificates/status", {"json": {"certificates": [b64(synthetic)], "purpose": real_b64[:40]}}),
        ("post", "/v1/login/verify", {"json": {"certificate": real_b64, "challenge": b64(b"c" * 32), "signature": b64(b"s" * 256)}}),
        ("post", "/v1/login/verify", {"json": {"certificate": real_b64, "challenge": s0, "signature": real_b64[:50] + "*"}}),
        ("post", "/v1/signatures/verify", {"json": {"certificate": real_b64, "document": b64(b"doc"), "signature": b64(b"x" * 256)}}),
        ("post", "/v1/age-check", {"json": {"certificates": [real_b64], "age": 18}}),
        ("post", "/ocsp", {"content": bytes.fromhex("3003020100") + bytes.fromhex(s0), "headers": {"Content-Type": "application/ocsp-request"}}),  # noqa: E501
        ("get", "/ocsp/" + real_b64[:60], {}),
        ("get", "/v1/snapshot", {"headers": {"X-API-Key": s0}}),
        ("get", f"/v1/partitions?issuer={s0}", {}),
        ("get", f"/v1/{s0}", {}),
    ]
    bodies = []
    with caplog.at_level(logging.DEBUG), TestClient(app) as c:
        for method, path, kwargs in requests:
            headers = {**h, **kwargs.pop("headers", {})}
            r = getattr(c, method)(path, headers=headers, **kwargs)
            assert r.status_code < 500, (path, r.status_code, r.text[:300])
            if r.status_code >= 400:
                bodies.append((path, r.text))
            elif r.headers.get("content-type", "").startswith("application/json"):
                for item in r.json().get("results", []):
                    bodies.append((path, str(item.get("detail"))))
        # A login with a real synthetic card, allowed and denied: answers are fine, logs are not.
        for row in [x for x in world.certs if x["kind"] == "auth"][:4]:
            card = {"der": (world.data / row["path"]).read_bytes(), "key": load_key(world.data / row["key_path"])}
            serials.append(row["serial"])
            assert c.post("/v1/login/verify", json={**login_body(card), "now": None}, headers=h).status_code == 200
    client_side = ("httpx", "httpcore")  # the test client's own request lines
    logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(client_side))
    logs += "".join(capfd.readouterr())
    audit = (app.state.config.resolved_audit_log()).read_text()
    secrets = {"API key": [key, *world.keys.values()], "real certificate": [real_b64[i:i + 40] for i in range(0, len(real_b64) - 40, 200)]}
    secrets |= {f"serial {s}": _forms(s) for s in serials}
    assert len(bodies) >= 15, bodies
    for what, needles in secrets.items():
        for needle in needles:
            low = needle.lower()
            assert low not in logs.lower(), f"{what} in the logs"
            assert low not in audit.lower(), f"{what} in the audit log"
            for path, text in bodies:
                assert low not in text.lower(), f"{what} in the error body of {path}: {text[:300]}"


def test_no_request_reaches_a_file_outside_the_store(world, tmp_path_factory):
    """Paths and parameters that would name files (.., encoded .., absolute paths, generation
    numbers outside the store) answer 4xx and never a file's content: the service opens only
    the store's generations (by number), its key, audit and session files (by configuration)."""
    app = _app(world, tmp_path_factory, "open")
    canary = world.root / "canary.txt"
    canary.write_text("CANARY-8f1d2c")
    admin = {"X-API-Key": world.keys["admin"]}
    attempts = [
        "/ui/static/..%2F..%2Fcanary.txt", "/ui/static/%2e%2e%2fcanary.txt", "/ui/static/../../../canary.txt",
        "/ui/static/" + str(canary).replace("/", "%2F"), "/v1/..%2F..%2Fcanary.txt", "/%2e%2e/%2e%2e/canary.txt",
        "/ui/changes/diff?generation=../../canary", "/ui/changes/diff?generation=-1", "/ui/changes/diff?parent=0&generation=1",
        "/ui/changes/diff?generation=99999999999999999999999", "/ui/changes/diff?format=../../canary.txt",
        "/ocsp/" + base64.b64encode(b"../../canary.txt").decode(), "/ui/login?next=//evil.example/", "/ui/login?next=/../canary.txt",
        "/v1/admin/usage?from=../../canary.txt",
    ]
    with TestClient(app, follow_redirects=False) as c:
        for path in attempts:
            for headers in ({}, admin):
                r = c.get(path, headers=headers)
                assert r.status_code < 500, (path, r.status_code, r.text[:300])
                assert b"CANARY-8f1d2c" not in r.content, path
                if r.status_code in (301, 302, 303, 307, 308):
                    assert r.headers["location"].startswith("/") and not r.headers["location"].startswith("//"), (path, r.headers)


@pytest.mark.parametrize(("host", "warned"), [("127.0.0.1", False), ("::1", False), ("localhost", False),
                                              ("0.0.0.0", True), ("10.1.2.3", True), ("jpki.example", True)])
def test_serve_warns_when_it_would_listen_beyond_loopback(monkeypatch, capsys, tmp_path, host, warned):
    """Plain HTTP off loopback carries keys and session cookies in clear: `jpki-fast serve` says
    so (docs/SECURITY.md F10), and still starts, as asked."""
    from jpki_fast.cli import main
    from jpki_fast_service import server

    started = []
    monkeypatch.setattr(server, "prepare", lambda config: None)
    monkeypatch.setattr(server, "run", lambda config, host, *rest: started.append(host) or 0)
    assert main(["serve", "--store", str(tmp_path), "--host", host]) == 0
    assert started == [host]
    assert ("is not a loopback address" in capsys.readouterr().err) == warned


def test_the_schema_pages_load_nothing_from_elsewhere(world, tmp_path_factory):
    """/docs and /redoc take their scripts, styles and icon from the service itself (no CDN: a
    verifier's network may reach nothing outside), and those assets are served."""
    app = _app(world, tmp_path_factory, "open")
    with TestClient(app) as c:
        for page in ("/docs", "/redoc"):
            html = c.get(page)
            assert html.status_code == 200, page
            urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""", html.text)
            urls = [u for pair in urls for u in pair if u]
            assert urls, (page, html.text[:500])
            assert not [u for u in urls if re.match(r"(?i)^(https?:)?//", u)], (page, urls)
            assert "googleapis" not in html.text and "cdn." not in html.text, page
            for u in urls:
                if u.startswith("/docs/assets/"):
                    r = c.get(u)
                    assert r.status_code == 200 and len(r.content) > 1000, u
