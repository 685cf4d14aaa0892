"""API keys: 401 without a valid key, 403 without the role, tenants see only their own usage,
keys never stored or logged in clear."""

from __future__ import annotations

import json

import pytest

from jpki_fast_service.auth import KeyRing, hash_key
from .svc_helpers import NOW, b64, login_body

QUERY_ENDPOINTS = [
    ("post", "/v1/certificates/status"),
    ("post", "/v1/login/verify"),
    ("post", "/v1/signatures/verify"),
    ("post", "/v1/age-check"),
    ("get", "/v1/snapshot"),
    ("get", "/v1/partitions"),
]
ADMIN_ENDPOINTS = [("post", "/v1/admin/reload"), ("get", "/v1/admin/usage")]


@pytest.mark.parametrize("method,path", QUERY_ENDPOINTS + ADMIN_ENDPOINTS)
@pytest.mark.parametrize("key", [None, "", "jpkf_not-a-key", "x" * 5000])
def test_missing_or_unknown_key_is_401(client, method, path, key):
    headers = {} if key is None else {"X-API-Key": key}
    r = getattr(client, method)(path, headers=headers, **({"json": {}} if method == "post" else {}))
    assert r.status_code == 401
    assert r.json()["location"] == "header/X-API-Key" and r.headers["WWW-Authenticate"] == "X-API-Key"


@pytest.mark.parametrize("method,path", ADMIN_ENDPOINTS)
def test_query_key_cannot_administer(client, dataset, method, path):
    r = getattr(client, method)(path, headers=dataset.header("query-a"))
    assert r.status_code == 403 and "'admin' role" in r.json()["message"]


@pytest.mark.parametrize("method,path", QUERY_ENDPOINTS)
def test_admin_or_personal_data_only_keys_cannot_query(client, dataset, method, path):
    for name in ("admin", "pd-only"):
        r = getattr(client, method)(path, headers=dataset.header(name), **({"json": {}} if method == "post" else {}))
        assert r.status_code == 403, (name, r.text)


def test_personal_data_needs_its_role(client, dataset):
    cert = dataset.certs_of("sign")[0]
    body = {"certificates": [b64(cert["der"])], "now": NOW, "personal_data": True}
    r = client.post("/v1/certificates/status", json=body, headers=dataset.header("query-a"))
    assert r.status_code == 403 and r.json()["location"] == "/personal_data"
    assert client.post("/v1/certificates/status", json=body, headers=dataset.header("pd-a")).status_code == 200


def test_usage_counts_per_tenant_key_endpoint_kind_and_status(client, dataset):
    good = dataset.certs_of("auth", revoked=False)[0]
    revoked = dataset.certs_of("sign", revoked=True)[0]
    start = client.get("/healthz").headers  # noqa: F841 - the period starts before the requests below
    from jpki_fast_service.audit import now_text

    since = now_text()
    for _ in range(3):
        client.post("/v1/login/verify", json=login_body(good), headers=dataset.header("query-b"))
    client.post("/v1/certificates/status", json={"certificates": [b64(revoked["der"])], "now": NOW}, headers=dataset.header("query-b"))
    r = client.get("/v1/admin/usage", params={"from": since}, headers=dataset.header("admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    mine = [row for row in body["items"] if row["tenant"] == "bank-b"]
    who = {"tenant": "bank-b", "key_id": "query-b"}
    assert {**who, "endpoint": "/v1/login/verify", "kind": "authentication", "status": "allow", "count": 3} in mine
    assert {**who, "endpoint": "/v1/certificates/status", "kind": "signing", "status": "revoked", "count": 1} in mine
    [logins] = [row for row in body["requests"] if row["tenant"] == "bank-b" and row["endpoint"] == "/v1/login/verify"]
    assert logins["requests"] == 3 and logins["items"] == 3 and logins["errors"] == 0


def test_a_tenant_admin_sees_only_its_own_tenant(client, dataset):
    client.post("/v1/login/verify", json=login_body(dataset.certs_of("auth")[0]), headers=dataset.header("query-b"))
    client.post("/v1/login/verify", json=login_body(dataset.certs_of("auth")[0]), headers=dataset.header("query-a"))
    body = client.get("/v1/admin/usage", headers=dataset.header("admin-a")).json()
    assert body["tenant"] == "bank-a"
    assert {row["tenant"] for row in body["requests"] + body["items"]} == {"bank-a"}
    r = client.get("/v1/admin/usage", params={"tenant": "bank-b"}, headers=dataset.header("admin-a"))
    assert r.status_code == 403
    everyone = client.get("/v1/admin/usage", headers=dataset.header("admin")).json()
    assert {"bank-a", "bank-b"} <= {row["tenant"] for row in everyone["requests"]}


def test_usage_period_excludes_requests_outside_it(client, dataset):
    body = client.get("/v1/admin/usage", params={"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"},
                      headers=dataset.header("admin")).json()
    assert body["requests"] == [] and body["items"] == []
    r = client.get("/v1/admin/usage", params={"from": "2001-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"},
                   headers=dataset.header("admin"))
    assert r.status_code == 422 and r.json()["location"] == "query/to"


def test_keys_are_stored_as_hashes_and_never_logged(client, dataset, config, caplog):
    stored = dataset.key_file.read_text()
    for key in dataset.keys.values():
        assert key not in stored and hash_key(key) in stored
    with caplog.at_level("DEBUG"):
        client.get("/v1/snapshot", headers=dataset.header("query-a"))
        client.get("/v1/snapshot", headers={"X-API-Key": "jpkf_wrong"})
    audit_text = config.resolved_audit_log().read_text()
    for key in [*dataset.keys.values(), "jpkf_wrong"]:
        assert key not in audit_text and key not in caplog.text


def test_lookup_compares_every_entry():
    ring = KeyRing.from_dict({"keys": [{"id": f"k{i}", "sha256": hash_key(f"key{i}"), "roles": ["query"]} for i in range(5)]})
    assert [ring.lookup(f"key{i}").id for i in range(5)] == [f"k{i}" for i in range(5)]
    assert ring.lookup("key5") is None and ring.lookup(None) is None


@pytest.mark.parametrize(
    "entry,message",
    [
        ({"id": "a", "sha256": "zz", "roles": ["query"]}, "sha256 must be 64 hex digits"),
        ({"id": "a", "sha256": "0" * 64, "roles": ["root"]}, "roles must be"),
        ({"id": "a b", "sha256": "0" * 64, "roles": ["query"]}, "id must be"),
        ({"id": "a", "sha256": "0" * 64, "roles": ["query"], "key": "secret"}, "unknown fields"),
    ],
)
def test_damaged_key_files_are_refused_naming_the_entry(entry, message):
    with pytest.raises(ValueError, match=message):
        KeyRing.from_dict({"keys": [entry]}, "keys.json")


def test_keys_add_prints_the_key_once_and_stores_its_hash(tmp_path, capsys):
    from jpki_fast.cli import main

    path = tmp_path / "keys.json"
    assert main(["keys", "add", "--file", str(path), "--id", "bank-c", "--roles", "query,personal_data", "--tenant", "bank-c"]) == 0
    key = capsys.readouterr().out.strip()
    data = json.loads(path.read_text())
    assert data == {"keys": [{"id": "bank-c", "sha256": hash_key(key), "roles": ["query", "personal_data"], "tenant": "bank-c"}]}
    assert (path.stat().st_mode & 0o777) == 0o600
    assert main(["keys", "add", "--file", str(path), "--id", "bank-c", "--roles", "query"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["keys", "add", "--file", str(path), "--id", "x", "--roles", "query,root"]) == 2
    assert main(["keys", "list", "--file", str(path)]) == 0
    assert key not in capsys.readouterr().out


def test_a_key_added_while_serving_is_accepted_without_a_restart(dataset, tmp_path):
    import shutil
    import time

    from fastapi.testclient import TestClient

    from jpki_fast_service import ServiceConfig, create_app
    from jpki_fast_service.auth import add_key

    keys = tmp_path / "keys.json"
    shutil.copy(dataset.key_file, keys)
    config = ServiceConfig(store=dataset.store, api_keys=keys, audit_log=tmp_path / "a.jsonl", reload_interval=0.05)
    with TestClient(create_app(config)) as c:
        new = add_key(keys, "late", ["query"], "bank-z")
        deadline = time.monotonic() + 30
        while c.get("/v1/snapshot", headers={"X-API-Key": new}).status_code != 200:
            assert time.monotonic() < deadline, "the new key was never accepted"
            time.sleep(0.05)
