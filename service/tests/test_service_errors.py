"""Bad input: each a clear 4xx naming what and where, or a per-item status; never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from jpki_fast_service import create_app
from .svc_helpers import NOW, b64, login_body


@pytest.fixture(scope="module")
def small(config):
    """An app with small limits."""
    with TestClient(create_app(config.with_changes(max_items=3, max_body=4096))) as c:
        yield c


def error(r, status, location=None, contains=None):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["message"] and body["errors"]
    if location is not None:
        assert body["location"] == location, body
    if contains is not None:
        assert contains in body["message"], body
    return body


@pytest.mark.parametrize("path", ["/v1/certificates/status", "/v1/login/verify", "/v1/signatures/verify", "/v1/age-check"])
def test_malformed_json_is_400(client, dataset, path):
    r = client.post(path, content=b'{"certificates": [', headers={**dataset.header("query-a"), "Content-Type": "application/json"})
    error(r, 400, "body", "malformed JSON")


@pytest.mark.parametrize("path", ["/v1/certificates/status", "/v1/login/verify", "/v1/signatures/verify", "/v1/age-check"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_wrong_content_type_is_415(client, dataset, path, content_type):
    headers = dict(dataset.header("query-a"))
    if content_type:
        headers["Content-Type"] = content_type
    error(client.post(path, content=b"{}", headers=headers), 415, "header/Content-Type")


def test_oversized_body_is_413_naming_the_limit(small, dataset):
    body = {"certificates": [b64(b"x" * 5000)]}
    error(small.post("/v1/certificates/status", json=body, headers=dataset.header("query-a")), 413, "body", "4,096 bytes")


def test_too_many_items_is_413_naming_the_limit(small, dataset):
    cert = b64(dataset.certs[0]["der"][:10])
    r = small.post("/v1/certificates/status", json={"certificates": [cert] * 4}, headers=dataset.header("query-a"))
    error(r, 413, "/certificates", "limit of 3")


def test_garbage_base64_certificates_are_422_naming_the_item(client, dataset):
    good = b64(dataset.certs[0]["der"])
    r = client.post("/v1/certificates/status", json={"certificates": [good, "not base64 @@"]}, headers=dataset.header("query-a"))
    error(r, 422, "/certificates/1", "not valid base64")


def test_base64_that_is_not_a_certificate_is_malformed_per_item(client, dataset):
    good = b64(dataset.certs[0]["der"])
    r = client.post("/v1/certificates/status", json={"certificates": [good, b64(b"hello")], "now": NOW}, headers=dataset.header("query-a"))
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]][1] == "malformed"


def test_empty_batches_are_422(client, dataset):
    h = dataset.header("query-a")
    error(client.post("/v1/certificates/status", json={"certificates": []}, headers=h), 422, "/certificates")
    error(client.post("/v1/login/verify", json={"logins": []}, headers=h), 422, "/logins")
    error(client.post("/v1/age-check", json={"certificates": [], "age": 18}, headers=h), 422, "/certificates")


def test_login_errors_name_the_field_of_the_shape_sent(client, dataset):
    h = dataset.header("query-a")
    body = login_body(dataset.certs_of("auth")[0])
    del body["signature"]
    error(client.post("/v1/login/verify", json=body, headers=h), 422, "/signature")
    batch = {"logins": [login_body(dataset.certs_of("auth")[0]) | {"now": None}, {"certificate": "AA"}]}
    for item in batch["logins"]:
        item.pop("now", None)
    error(client.post("/v1/login/verify", json=batch, headers=h), 422, "/logins/1/challenge")
    bad = login_body(dataset.certs_of("auth")[0]) | {"challenge": "%%%"}
    error(client.post("/v1/login/verify", json=bad, headers=h), 422, "/challenge", "not valid base64")


@pytest.mark.parametrize(
    "body,location",
    [
        ({"certificates": ["AA"], "purpose": "payment"}, "/purpose"),
        ({"certificates": ["AA"], "now": "yesterday"}, "/now"),
        ({"certificates": "AA"}, "/certificates"),
        ({"certificates": ["AA"], "surprise": 1}, "/surprise"),
        ([], "body"),
    ],
)
def test_invalid_fields_are_422_naming_them(client, dataset, body, location):
    r = client.post("/v1/certificates/status", json=body, headers=dataset.header("query-a"))
    assert r.status_code == 422, r.text
    assert r.json()["location"].startswith(location), r.json()


def test_signature_needs_a_document_or_a_digest_of_the_right_size(client, dataset):
    cert = dataset.certs_of("sign")[0]
    h = dataset.header("query-a")
    base = {"certificate": b64(cert["der"]), "signature": b64(b"s" * 256)}
    error(client.post("/v1/signatures/verify", json=base, headers=h), 422, "/document")
    error(client.post("/v1/signatures/verify", json={**base, "digest": b64(b"d" * 31)}, headers=h), 422, "/digest", "32 bytes")
    error(client.post("/v1/signatures/verify", json={**base, "digest": b64(b"d" * 32), "document": "AA"}, headers=h), 422)


def test_age_out_of_range_is_422(client, dataset):
    r = client.post("/v1/age-check", json={"certificates": ["AA"], "age": -1}, headers=dataset.header("query-a"))
    error(r, 422, "/age")


def test_unknown_paths_and_methods_are_json_errors(client):
    error(client.get("/v1/nothing"), 404, "path")
    error(client.get("/v1/login/verify"), 405, "method")


def test_non_ascii_pem_is_422(client, dataset):
    body = {"certificates": ["-----BEGIN CERTIFICATE-----\nあ"]}
    r = client.post("/v1/certificates/status", json=body, headers=dataset.header("query-a"))
    error(r, 422, "/certificates/0")


def test_a_chunked_body_over_the_limit_is_413(small, dataset):
    def chunks():
        for _ in range(10):
            yield b" " * 1000

    r = small.post(
        "/v1/certificates/status", content=chunks(), headers={**dataset.header("query-a"), "Content-Type": "application/json"}
    )
    error(r, 413, "body", "4,096 bytes")
