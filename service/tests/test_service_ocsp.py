"""POST /ocsp and GET /ocsp/{request} through the ASGI test client: answers, RFC 5019 caching
headers and the cache, access, metrics, the audit log, reload, and hostile requests (never a
500). The real `openssl ocsp` client against a server process is test_service_ocsp_openssl.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import shutil
import urllib.parse
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import ocsp as x509_ocsp
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from jpki_fast import ocsp
from jpki_fast_service import ServiceConfig, create_app
from jpki_fast_service.ocsp_settings import OcspSettings

from . import ocsp_world
from .ocsp_world import OcspWorld

OCSP_REQUEST = {"Content-Type": "application/ocsp-request"}
MALFORMED, UNAUTHORIZED = b"\x30\x03\x0a\x01\x01", b"\x30\x03\x0a\x01\x06"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> OcspWorld:
    return ocsp_world.build(tmp_path_factory.mktemp("ocsp-service"), stale_sign=True)


def _app(world: OcspWorld, store, tmp_path_factory, *, auth="open", cache_bytes=64 << 20, pairs=None):
    audit = tmp_path_factory.mktemp("ocsp-audit") / "audit.jsonl"
    settings = OcspSettings(tuple(pairs or world.pairs()), auth, cache_bytes)
    config = ServiceConfig(store=store, api_keys=world.key_file, audit_log=audit, extra=settings.to_extra(), reload_interval=0.05)
    return create_app(config), audit


@pytest.fixture(scope="module")
def served(world, tmp_path_factory):
    app, audit = _app(world, world.store, tmp_path_factory)
    with TestClient(app) as client:
        yield client, audit


@pytest.fixture
def client(served):
    return served[0]


def request_for(world: OcspWorld, issuer: str, serial: str, **options) -> bytes:
    return ocsp.build_request(world.ca(issuer).read_bytes(), [serial], **options)


def status_of(der: bytes):
    resp = x509_ocsp.load_der_ocsp_response(der)
    assert resp.response_status == x509_ocsp.OCSPResponseStatus.SUCCESSFUL
    return next(iter(resp.responses)), resp


def counter(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_post_answers_good_and_revoked_with_caching_headers(world, client):
    for cert, expected in ((world.cert("auth_ca_2023", False), "GOOD"), (world.cert("sign_ca_2019", True), "REVOKED")):
        r = client.post("/ocsp", content=request_for(world, cert["issuer"], cert["serial"]), headers=OCSP_REQUEST)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/ocsp-response"
        single, resp = status_of(r.content)
        assert single.certificate_status.name == expected
        assert single.serial_number == int(cert["serial"], 16)
        cache = r.headers["cache-control"]
        assert cache.startswith("max-age=") and cache.endswith(", public, no-transform, must-revalidate")
        max_age = int(cache.split(",")[0].removeprefix("max-age="))
        assert 0 < max_age <= (single.next_update_utc - single.this_update_utc).total_seconds()
        assert r.headers["etag"].strip('"') == hashlib.sha256(r.content).hexdigest()
        assert r.headers["last-modified"] == single.this_update_utc.strftime("%a, %d %b %Y %H:%M:%S GMT")
        assert r.headers["expires"] == single.next_update_utc.strftime("%a, %d %b %Y %H:%M:%S GMT")
        assert r.headers["x-snapshot-generation"] == "1"


def test_nonce_requests_are_signed_live_and_not_cached(world, client):
    cert = world.cert("auth_ca_2023", True)
    hits = counter("jpki_fast_ocsp_cache_total", result="hit")
    misses = counter("jpki_fast_ocsp_cache_total", result="miss")
    for nonce in (b"\x01" * 16, b"\x02" * 32):
        r = client.post("/ocsp", content=request_for(world, "auth_ca_2023", cert["serial"], nonce=nonce), headers=OCSP_REQUEST)
        single, resp = status_of(r.content)
        assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
        assert single.certificate_status.name == "REVOKED"
        assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers
    # Requests with a nonce never consult the cache.
    assert counter("jpki_fast_ocsp_cache_total", result="hit") == hits
    assert counter("jpki_fast_ocsp_cache_total", result="miss") == misses


def test_the_cache_serves_the_same_response_and_counts_hits(world, client):
    cert = world.cert("auth_ca_2019", False)
    req = request_for(world, "auth_ca_2019", cert["serial"], hash="sha256")
    hits, misses = counter("jpki_fast_ocsp_cache_total", result="hit"), counter("jpki_fast_ocsp_cache_total", result="miss")
    first = client.post("/ocsp", content=req, headers=OCSP_REQUEST)
    second = client.post("/ocsp", content=req, headers=OCSP_REQUEST)
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
    assert counter("jpki_fast_ocsp_cache_total", result="miss") == misses + 1
    assert counter("jpki_fast_ocsp_cache_total", result="hit") == hits + 1
    # The SHA-1 CertID of the same certificate is another entry: its response must echo it.
    sha1 = client.post("/ocsp", content=request_for(world, "auth_ca_2019", cert["serial"]), headers=OCSP_REQUEST)
    assert status_of(sha1.content)[0].hash_algorithm.name == "sha1"
    assert status_of(second.content)[0].hash_algorithm.name == "sha256"
    assert counter("jpki_fast_ocsp_responses_total", status="successful") >= 3


@pytest.mark.parametrize("form", ["standard", "urlsafe", "percent", "unpadded", "percent-urlsafe"])
def test_get_with_every_base64_form(world, client, form):
    cert = world.cert("sign_ca_2023", False)
    der = request_for(world, "sign_ca_2023", cert["serial"])
    # Try serials until the standard encoding holds '/' and '+' (the cases that need care).
    serial = int(cert["serial"], 16)
    while not ("/" in base64.b64encode(der).decode() and "+" in base64.b64encode(der).decode()):
        serial += 1
        der = request_for(world, "sign_ca_2023", f"{serial:08X}")
    std = base64.b64encode(der).decode()
    path = {
        "standard": std,
        "urlsafe": base64.urlsafe_b64encode(der).decode(),
        "percent": urllib.parse.quote(std, safe=""),
        "unpadded": std.rstrip("="),
        "percent-urlsafe": urllib.parse.quote(base64.urlsafe_b64encode(der).decode().rstrip("="), safe=""),
    }[form]
    r = client.get(f"/ocsp/{path}")
    assert r.status_code == 200, r.text
    single, _ = status_of(r.content)
    assert single.serial_number == serial
    assert single.certificate_status.name in ("GOOD", "REVOKED")
    # The same request by POST gets the same (cached) response, with or without a trailing slash.
    assert client.post("/ocsp", content=der, headers=OCSP_REQUEST).content == r.content
    assert client.post("/ocsp/", content=der, headers=OCSP_REQUEST).content == r.content


def test_get_revalidates_with_if_none_match(world, client):
    der = request_for(world, "auth_ca_2023", world.cert("auth_ca_2023", False)["serial"])
    path = base64.urlsafe_b64encode(der).decode()
    r = client.get(f"/ocsp/{path}")
    again = client.get(f"/ocsp/{path}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == r.headers["etag"] and "max-age=" in again.headers["cache-control"]
    other = client.get(f"/ocsp/{path}", headers={"If-None-Match": '"0000"'})
    assert other.status_code == 200 and other.content == r.content


def test_issuers_not_served_are_unauthorized(world, client):
    real = (Path(__file__).resolve().parents[2] / "tests" / "vectors" / "jpki" / "auth_ca_2023.pem").read_bytes()
    r = client.post("/ocsp", content=ocsp.build_request(real, ["054CFCD8"]), headers=OCSP_REQUEST)
    assert (r.status_code, r.content, r.headers["cache-control"]) == (200, UNAUTHORIZED, "no-store")
    # Two CA keys in one request.
    two = ocsp_world.request_of(*(ocsp_world.cert_id_of(request_for(world, a, "01")) for a in ("auth_ca_2023", "auth_ca_2019")))
    assert client.post("/ocsp", content=two, headers=OCSP_REQUEST).content == UNAUTHORIZED
    assert counter("jpki_fast_ocsp_responses_total", status="unauthorized") >= 2


def test_hostile_requests_get_malformed_or_4xx_never_500(world, client):
    good = request_for(world, "auth_ca_2023", "054CFCD8", nonce=b"n" * 16)
    rng = random.Random(5)
    bodies = [b"", b"\x00", b"\x30\x80\x00\x00", good + b"\x00", b"GET / HTTP/1.1\r\n\r\n"]
    bodies += [good[:n] for n in range(0, len(good), 3)]
    bodies += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 200))) for _ in range(60)]
    for body in bodies:
        r = client.post("/ocsp", content=body, headers=OCSP_REQUEST)
        assert (r.status_code, r.content) == (200, MALFORMED), body[:16]
        encoded = base64.urlsafe_b64encode(body).decode()
        g = client.get(f"/ocsp/{encoded}") if encoded else client.get("/ocsp/")
        assert (g.status_code, g.content) == (200, MALFORMED), body[:16]
    for path in ("not*base64!", "%ZZ", "AAAA/../../etc/passwd", "=" * 8, "%2F%2F%2F"):
        g = client.get(f"/ocsp/{path}")
        assert g.status_code in (200, 404) and g.status_code != 500, path
        if g.status_code == 200:
            assert g.content == MALFORMED
    # HTTP faults: 415 content type, 413 size (declared or streamed), 405 method.
    assert client.post("/ocsp", content=good, headers={"Content-Type": "application/json"}).status_code == 415
    assert client.post("/ocsp", content=good).status_code == 415
    big = b"\x30" * (ocsp.MAX_REQUEST_BYTES + 1)
    assert client.post("/ocsp", content=big, headers=OCSP_REQUEST).status_code == 413

    def stream():
        for _ in range(80):
            yield b"\x30" * 1024

    assert client.post("/ocsp", content=stream(), headers=OCSP_REQUEST).status_code == 413
    long_get = client.get("/ocsp/" + "A" * 60_000)  # 45,000 zero bytes: under the size limit, not a request
    assert (long_get.status_code, long_get.content) == (200, MALFORMED)
    assert client.put("/ocsp", content=good, headers=OCSP_REQUEST).status_code == 405
    assert client.get("/ocsp").status_code == 405
    assert client.delete("/ocsp/AAAA").status_code == 405
    assert counter("jpki_fast_requests_total", endpoint="/ocsp", method="POST", code="500") == 0
    assert counter("jpki_fast_requests_total", endpoint="/ocsp/{encoded:path}", method="GET", code="500") == 0


def test_audit_lines_record_hmacs_never_serials(world, served):
    client, audit = served
    cert = world.cert("sign_ca_2023", True)
    client.post("/ocsp", content=request_for(world, "sign_ca_2023", cert["serial"], nonce=b"a" * 16), headers=OCSP_REQUEST)
    client.post("/ocsp", content=b"garbage", headers=OCSP_REQUEST)
    text = audit.read_text()
    assert cert["serial"] not in text and cert["serial"].lower() not in text
    lines = [json.loads(line) for line in text.splitlines()]
    ocsp_lines = [line for line in lines if line["endpoint"].startswith("/ocsp")]
    revoked = [line for line in ocsp_lines if line["counts"] == {"revoked": 1}][-1]
    assert revoked["items"] == 1 and revoked["kinds"] == {"signing": {"revoked": 1}} and len(revoked["subjects"]) == 1
    key = bytes.fromhex(audit.with_name(audit.name + ".key").read_text().strip())
    assert revoked["subjects"][0] == hmac.new(key, f"sign_ca_2023/{cert['serial']}".encode(), hashlib.sha256).hexdigest()
    assert ocsp_lines[-1]["counts"] == {"malformedRequest": 1}
    from jpki_fast_service.audit import verify

    assert verify(audit).ok


def test_key_access_requires_the_query_role(world, tmp_path_factory):
    app, _ = _app(world, world.store, tmp_path_factory, auth="key")
    der = request_for(world, "auth_ca_2023", "01")
    with TestClient(app) as c:
        none = c.post("/ocsp", content=der, headers=OCSP_REQUEST)
        assert (none.status_code, none.content, none.headers["www-authenticate"]) == (401, UNAUTHORIZED, "X-API-Key")
        wrong = c.post("/ocsp", content=der, headers={**OCSP_REQUEST, "X-API-Key": "jpkf_nope"})
        assert (wrong.status_code, wrong.content) == (401, UNAUTHORIZED)
        admin = c.post("/ocsp", content=der, headers={**OCSP_REQUEST, "X-API-Key": world.keys["admin"]})
        assert (admin.status_code, admin.content) == (403, UNAUTHORIZED)
        ok = c.post("/ocsp", content=der, headers={**OCSP_REQUEST, "X-API-Key": world.keys["query"]})
        assert ok.status_code == 200 and status_of(ok.content)[0].certificate_status.name == "GOOD"
        get = c.get("/ocsp/" + base64.b64encode(der).decode(), headers={"X-API-Key": world.keys["query"]})
        assert get.content == ok.content
        assert c.get("/ocsp/" + base64.b64encode(der).decode()).status_code == 401


def test_reload_brings_new_answers_and_a_new_cache(world, tmp_path_factory):
    store = tmp_path_factory.mktemp("ocsp-reload") / "store"
    shutil.copytree(world.store, store)
    cert = world.cert("auth_ca_2023", False)
    der = request_for(world, "auth_ca_2023", cert["serial"])
    app, _ = _app(world, store, tmp_path_factory)
    with TestClient(app) as c:
        before = c.post("/ocsp", content=der, headers=OCSP_REQUEST)
        assert status_of(before.content)[0].certificate_status.name == "GOOD"
        assert c.post("/ocsp", content=der, headers=OCSP_REQUEST).content == before.content  # cached
        assert len(app.state.ocsp.cache) >= 1
        ocsp_world.republish_with(world, store, "auth_ca_2023", cert["serial"])
        assert c.post("/v1/admin/reload", headers={"X-API-Key": world.keys["admin"]}).status_code == 200
        misses = counter("jpki_fast_ocsp_cache_total", result="miss")
        after = c.post("/ocsp", content=der, headers=OCSP_REQUEST)
        assert after.headers["x-snapshot-generation"] == "2"
        single, _ = status_of(after.content)
        assert single.certificate_status.name == "REVOKED"
        assert single.revocation_reason == x509.ReasonFlags.key_compromise
        assert counter("jpki_fast_ocsp_cache_total", result="miss") == misses + 1
        assert app.state.ocsp.cache.generation == 2 and len(app.state.ocsp.cache) == 1


def test_a_stale_partition_is_never_good(world, tmp_path_factory):
    """The signing CA's CRLs are three days old: its certificates are unknown (revoked ones stay
    revoked, without a nextUpdate), while the authentication CA's are answered as ever."""
    app, _ = _app(world, world.stale_store, tmp_path_factory)
    with TestClient(app) as c:
        good_sign = world.cert("sign_ca_2023", False)
        r = c.post("/ocsp", content=request_for(world, "sign_ca_2023", good_sign["serial"]), headers=OCSP_REQUEST)
        single, _ = status_of(r.content)
        assert single.certificate_status.name == "UNKNOWN" and single.next_update_utc is None
        assert r.headers["cache-control"] == "no-store"
        old_revoked = world.revoked_serials("sign_ca_2023", world.stale_truth)[0]
        r = c.post("/ocsp", content=request_for(world, "sign_ca_2023", old_revoked["serial"]), headers=OCSP_REQUEST)
        single, _ = status_of(r.content)
        assert single.certificate_status.name == "REVOKED" and single.next_update_utc is None
        good_auth = world.cert("auth_ca_2023", False)
        r = c.post("/ocsp", content=request_for(world, "auth_ca_2023", good_auth["serial"]), headers=OCSP_REQUEST)
        assert status_of(r.content)[0].certificate_status.name == "GOOD"


def test_rsa_responders_and_a_bounded_cache(world, tmp_path_factory):
    app, _ = _app(world, world.store, tmp_path_factory, pairs=world.pairs(rsa=True), cache_bytes=4096)
    with TestClient(app) as c:
        for serial in range(0x05100000, 0x05100010):
            r = c.post("/ocsp", content=request_for(world, "auth_ca_2023", f"{serial:08X}"), headers=OCSP_REQUEST)
            single, resp = status_of(r.content)
            assert resp.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA256
        cache = app.state.ocsp.cache
        assert 0 < cache.bytes <= 4096 and len(cache) < 16


def test_without_pairs_there_is_no_ocsp_endpoint(world, tmp_path_factory):
    config = ServiceConfig(store=world.store, api_keys=world.key_file, audit_log=tmp_path_factory.mktemp("a") / "audit.jsonl")
    with TestClient(create_app(config)) as c:
        assert c.post("/ocsp", content=b"x", headers=OCSP_REQUEST).status_code == 404
