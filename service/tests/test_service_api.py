"""Every endpoint through the ASGI test client, answers checked against the library and the
synthetic dataset's truth."""

from __future__ import annotations

import base64
import hashlib
import io

import pyarrow as pa
import pytest

import jpki_fast
from .svc_helpers import NOW, b64, login_body, sign

ARROW = "application/vnd.apache.arrow.stream"


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_every_response_names_its_generation(client, dataset):
    generation = jpki_fast.open_store(dataset.store).generation
    for r in (client.get("/healthz"), client.get("/v1/snapshot", headers=dataset.header("query-a")), client.get("/nope")):
        assert r.headers["X-Snapshot-Generation"] == str(generation)


def test_readyz_reports_stale_partitions_with_the_reason(client):
    # The synthetic CRLs were issued at NOW (2026-11-26) with a 48-hour nextUpdate; at the
    # machine's real time they may be fresh or long stale: the answer must agree with that.
    r = client.get("/readyz")
    body = r.json()
    assert r.status_code in (200, 503)
    assert body["ready"] == (r.status_code == 200)
    if not body["ready"]:
        assert "past their nextUpdate by more than 3600 s" in body["reason"] and body["stale_partitions"] == 40


def test_readyz_with_a_grace_covering_the_data_is_ready(dataset, tmp_path):
    from fastapi.testclient import TestClient

    from jpki_fast_service import ServiceConfig, create_app

    config = ServiceConfig(store=dataset.store, api_keys=dataset.key_file, audit_log=tmp_path / "a.jsonl", stale_grace=1e10)
    with TestClient(create_app(config)) as c:
        r = c.get("/readyz")
    assert r.status_code == 200 and r.json()["ready"] is True and r.json()["reason"] is None


def test_certificates_status_matches_the_library_and_the_truth(client, dataset):
    certs = dataset.certs[:12]
    r = client.post(
        "/v1/certificates/status",
        json={"certificates": [b64(c["der"]) for c in certs], "now": NOW},
        headers=dataset.header("query-a"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    expected = jpki_fast.open_store(dataset.store).check_certificates([c["der"] for c in certs], now=NOW)
    assert [x["status"] for x in body["results"]] == expected.column("status").to_pylist()
    assert [x["status"] == "revoked" for x in body["results"]] == [c["revoked"] for c in certs]
    assert [x["serial"] for x in body["results"]] == [c["serial"] for c in certs]
    revoked = next(x for x, c in zip(body["results"], certs) if c["revoked"])
    assert revoked["reason"] and revoked["revocation_date"].endswith("Z")
    assert body["checked_at"] == NOW and body["generation"] >= 1
    assert all("basic_four_facts" not in x for x in body["results"])


def test_certificates_status_accepts_pem(client, dataset):
    der = dataset.certs[0]["der"]
    pem = "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der).decode() + "-----END CERTIFICATE-----\n"
    r = client.post("/v1/certificates/status", json={"certificates": [pem], "now": NOW}, headers=dataset.header("query-a"))
    assert r.status_code == 200 and r.json()["results"][0]["serial"] == dataset.certs[0]["serial"]


def test_certificates_status_gives_the_basic_four_facts_to_the_personal_data_role(client, dataset):
    signing = dataset.certs_of("sign")[0]
    r = client.post(
        "/v1/certificates/status",
        json={"certificates": [b64(signing["der"])], "now": NOW, "personal_data": True},
        headers=dataset.header("pd-a"),
    )
    assert r.status_code == 200
    facts = r.json()["results"][0]["basic_four_facts"]
    expected = jpki_fast.basic_four_facts(signing["der"])
    assert facts["date_of_birth"] == expected.date_of_birth and facts["name"] == expected.name


def test_provenance_adds_the_crl_the_answer_rests_on(client, dataset):
    cert = dataset.certs_of("auth", revoked=False)[0]
    r = client.post(
        "/v1/certificates/status",
        json={"certificates": [b64(cert["der"])], "now": NOW, "provenance": True, "purpose": "login"},
        headers=dataset.header("query-a"),
    )
    row = r.json()["results"][0]
    assert row["status"] == "good" and row["crl_number"] == "20261126" and row["next_update"] > NOW


def test_single_login_allows_only_a_valid_signature_by_a_good_certificate(client, dataset):
    good = dataset.certs_of("auth", revoked=False)[0]
    revoked = dataset.certs_of("auth", revoked=True)[0]
    cases = [(good, False, "allow"), (good, True, "deny"), (revoked, False, "deny")]
    for cert, tamper, decision in cases:
        r = client.post("/v1/login/verify", json=login_body(cert, tamper), headers=dataset.header("query-a"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["decision"] == decision
        assert body["signature_valid"] is (not tamper)
        assert body["status"] == ("revoked" if cert["revoked"] else "good")
        assert body["serial"] == cert["serial"] and body["generation"] >= 1 and body["checked_at"] == NOW


def test_signing_certificate_cannot_log_in(client, dataset):
    signing = dataset.certs_of("sign", revoked=False)[0]
    body = client.post("/v1/login/verify", json=login_body(signing), headers=dataset.header("query-a")).json()
    assert body["decision"] == "deny" and body["status"] == "wrong_usage"


def test_batch_login_answers_in_order(client, dataset):
    auth = dataset.certs_of("auth")[:10]
    logins = [login_body(c, tamper=(i % 3 == 2)) for i, c in enumerate(auth)]
    for item in logins:
        del item["now"]
    r = client.post("/v1/login/verify", json={"logins": logins, "now": NOW}, headers=dataset.header("query-a"))
    assert r.status_code == 200, r.text
    decisions = [x["decision"] for x in r.json()["results"]]
    assert decisions == ["allow" if (not c["revoked"] and i % 3 != 2) else "deny" for i, c in enumerate(auth)]


def test_signed_document_by_document_and_by_digest(client, dataset):
    cert = dataset.certs_of("sign", revoked=False)[0]
    document = b"application for an account, 2026-11-26"
    signature = sign(cert["key"], document)
    base = {"certificate": b64(cert["der"]), "signature": b64(signature), "now": NOW}
    by_document = client.post("/v1/signatures/verify", json={**base, "document": b64(document)}, headers=dataset.header("query-a"))
    by_digest = client.post(
        "/v1/signatures/verify", json={**base, "digest": b64(hashlib.sha256(document).digest())}, headers=dataset.header("query-a")
    )
    for r in (by_document, by_digest):
        assert r.status_code == 200, r.text
        assert r.json()["valid"] is True and r.json()["status"] == "good"
    forged = client.post(
        "/v1/signatures/verify", json={**base, "document": b64(document + b"!")}, headers=dataset.header("query-a")
    ).json()
    assert forged["valid"] is False and forged["signature_valid"] is False


def test_signed_document_by_a_revoked_certificate_is_invalid(client, dataset):
    cert = dataset.certs_of("sign", revoked=True)[0]
    document = b"contract"
    body = {"certificate": b64(cert["der"]), "document": b64(document), "signature": b64(sign(cert["key"], document)), "now": NOW}
    r = client.post("/v1/signatures/verify", json=body, headers=dataset.header("query-a")).json()
    assert r["valid"] is False and r["signature_valid"] is True and r["status"] == "revoked"


def test_age_check_decides_from_the_date_of_birth_of_good_certificates_only(client, dataset):
    from jpki_fast_service.routers.age import has_reached, parse_birth_date

    good = dataset.certs_of("sign", revoked=False)[:4]
    revoked = dataset.certs_of("sign", revoked=True)[0]
    ders = [c["der"] for c in good] + [revoked["der"]]
    r = client.post(
        "/v1/age-check",
        json={"certificates": [b64(d) for d in ders], "age": 18, "date": "2026-11-26", "now": NOW},
        headers=dataset.header("query-a"),
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    for cert, row in zip(good, results):
        birth = parse_birth_date(jpki_fast.basic_four_facts(cert["der"]).date_of_birth)
        assert row["status"] == "good" and row["reached"] is has_reached(birth, 18, __import__("datetime").date(2026, 11, 26))
        assert "date_of_birth" not in row
    assert results[-1]["status"] == "revoked" and results[-1]["reached"] is None


def test_age_check_returns_the_date_of_birth_only_to_the_personal_data_role(client, dataset):
    cert = dataset.certs_of("sign", revoked=False)[0]
    body = {"certificates": [b64(cert["der"])], "age": 20, "now": NOW, "personal_data": True}
    assert client.post("/v1/age-check", json=body, headers=dataset.header("query-a")).status_code == 403
    row = client.post("/v1/age-check", json=body, headers=dataset.header("pd-a")).json()["results"][0]
    expected = jpki_fast.basic_four_facts(cert["der"]).date_of_birth
    assert row["date_of_birth"].replace("-", "") == expected


def test_age_is_reached_on_the_anniversary_and_on_1_march_for_29_february():
    import datetime as dt

    from jpki_fast_service.routers.age import has_reached, parse_birth_date

    assert has_reached(dt.date(2008, 11, 26), 18, dt.date(2026, 11, 26))
    assert not has_reached(dt.date(2008, 11, 27), 18, dt.date(2026, 11, 26))
    assert not has_reached(dt.date(2008, 2, 29), 18, dt.date(2026, 2, 28))
    assert has_reached(dt.date(2008, 2, 29), 18, dt.date(2026, 3, 1))
    assert parse_birth_date("19800131") == dt.date(1980, 1, 31)
    assert parse_birth_date("3550101") == dt.date(1980, 1, 1)  # Showa 55
    assert parse_birth_date("19801341") is None and parse_birth_date("") is None


def test_snapshot_counts_by_issuer_and_reason(client, dataset):
    r = client.get("/v1/snapshot", params={"now": NOW}, headers=dataset.header("query-a"))
    assert r.status_code == 200
    body = r.json()
    truth = dataset.truth
    assert body["entries"] == truth.num_rows
    by_issuer = {i["alias"]: i for i in body["issuers"]}
    for alias in ("auth_ca_2023", "sign_ca_2023"):
        rows = truth.filter(pa.compute.equal(truth.column("issuer"), alias))
        reasons = rows.column("reason").cast(pa.string()).fill_null("none").to_pylist()
        expected = {r: reasons.count(r) for r in set(reasons)}
        assert by_issuer[alias]["by_reason"] == expected and by_issuer[alias]["entries"] == rows.num_rows
    assert body["freshness"] == {
        "partitions": 40, "fresh": 40, "stale": 0,
        "oldest_next_update": body["freshness"]["oldest_next_update"], "oldest_this_update": body["freshness"]["oldest_this_update"],
    }
    assert body["freshness"]["oldest_next_update"] > NOW > body["freshness"]["oldest_this_update"]


def test_snapshot_as_arrow(client, dataset):
    r = client.get("/v1/snapshot", params={"now": NOW}, headers={**dataset.header("query-a"), "Accept": ARROW})
    assert r.status_code == 200 and r.headers["content-type"] == ARROW
    table = pa.ipc.open_stream(io.BytesIO(r.content)).read_all()
    assert set(table.column("issuer").to_pylist()) >= {"auth_ca_2023", "sign_ca_2023"}
    assert table.schema.metadata[b"fresh"] == b"40"


def test_partitions_json_and_arrow_agree(client, dataset):
    j = client.get("/v1/partitions", params={"now": NOW}, headers=dataset.header("query-a"))
    a = client.get("/v1/partitions", params={"now": NOW}, headers={**dataset.header("query-a"), "Accept": ARROW})
    assert j.status_code == a.status_code == 200
    rows = j.json()["partitions"]
    table = pa.ipc.open_stream(io.BytesIO(a.content)).read_all()
    assert len(rows) == table.num_rows == 40
    assert [r["partition"] for r in rows] == table.column("partition").to_pylist()
    assert all(r["fresh"] for r in rows) and {r["crl_number"] for r in rows} == {"20261126"}
    assert sum(r["entries"] for r in rows) == dataset.truth.num_rows


def test_unacceptable_accept_is_406(client, dataset):
    r = client.get("/v1/partitions", headers={**dataset.header("query-a"), "Accept": "text/csv"})
    assert r.status_code == 406 and r.json()["location"] == "header/Accept"


def test_metrics_count_requests_and_answers(client, dataset):
    client.post("/v1/login/verify", json=login_body(dataset.certs_of("auth", revoked=False)[0]), headers=dataset.header("query-a"))
    text = client.get("/metrics").text
    assert 'jpki_fast_requests_total{code="200",endpoint="/v1/login/verify",method="POST"}' in text
    assert 'jpki_fast_checks_total{endpoint="/v1/login/verify",status="allow"}' in text
    assert "jpki_fast_request_duration_seconds_bucket" in text and "jpki_fast_snapshot_generation" in text


def test_admin_reload_without_a_new_generation_changes_nothing(client, dataset):
    r = client.post("/v1/admin/reload", headers=dataset.header("admin"))
    assert r.status_code == 200 and r.json()["changed"] is False


def test_openapi_documents_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/certificates/status", "/v1/login/verify", "/v1/signatures/verify", "/v1/age-check", "/v1/snapshot",
                 "/v1/partitions", "/healthz", "/readyz", "/metrics", "/v1/admin/reload", "/v1/admin/usage"):
        assert path in paths, path


@pytest.mark.parametrize("path", ["/v1/snapshot", "/v1/partitions"])
def test_query_keys_get_no_entries(client, dataset, path):
    # Answers and metadata only: nothing hands out the revoked serials themselves.
    r = client.get(path, params={"now": NOW}, headers=dataset.header("query-a"))
    text = r.text
    some_revoked = dataset.truth.column("serial").to_pylist()[:50]
    assert not any(s in text for s in some_revoked)
