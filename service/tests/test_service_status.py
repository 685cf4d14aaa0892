"""POST /v1/status: JSON and Arrow IPC, both request shapes, answers equal to the library's."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

import jpki_fast
from jpki_fast_service import create_app
from .svc_helpers import NOW

ARROW = "application/vnd.apache.arrow.stream"


def arrow_body(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def read_arrow(content: bytes) -> pa.Table:
    return pa.ipc.open_stream(io.BytesIO(content)).read_all()


@pytest.fixture(scope="module")
def sample(dataset):
    """Revoked serials of both CAs, and serials next to them (mostly good)."""
    truth = dataset.truth
    rows = []
    for issuer in ("auth_ca_2023", "sign_ca_2023"):
        picked = truth.filter(pa.compute.equal(truth.column("issuer"), issuer)).slice(0, 200)
        rows += picked.select(["issuer", "serial"]).to_pylist()
    near = [{"issuer": r["issuer"], "serial": f"{int(r['serial'], 16) + 1:08X}"} for r in rows]
    return rows + near


def expected(dataset, items, now=NOW, provenance=False):
    store = jpki_fast.open_store(dataset.store)
    table = pa.table({"issuer": [i["issuer"] for i in items], "serial": [i["serial"] for i in items]})
    return store.check_table(table, now=now, provenance=provenance)


def test_one_issuer_many_serials(client, dataset, sample):
    auth = [i for i in sample if i["issuer"] == "auth_ca_2023"]
    r = client.post(
        "/v1/status",
        json={"issuer": "auth_ca_2023", "serials": [i["serial"] for i in auth], "now": NOW},
        headers=dataset.header("query-a"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    want = expected(dataset, auth)
    assert [x["status"] for x in body["results"]] == want.column("status").to_pylist()
    assert [x["reason"] for x in body["results"]] == want.column("reason").to_pylist()
    assert body["generation"] == int(r.headers["X-Snapshot-Generation"]) and body["checked_at"] == NOW
    assert {x["status"] for x in body["results"]} == {"revoked", "good"}


def test_items_with_an_issuer_each(client, dataset, sample):
    r = client.post("/v1/status", json={"items": sample, "now": NOW}, headers=dataset.header("query-a"))
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    want = expected(dataset, sample)
    assert [x["status"] for x in results] == want.column("status").to_pylist()
    assert [x["serial"] for x in results] == want.column("serial").to_pylist()
    revoked = next(x for x in results if x["status"] == "revoked")
    assert revoked["revocation_date"].endswith("Z")


def test_arrow_in_and_out(client, dataset, sample):
    table = pa.table({"issuer": [i["issuer"] for i in sample], "serial": [i["serial"] for i in sample]})
    table = table.replace_schema_metadata({"now": NOW})
    r = client.post(
        "/v1/status",
        content=arrow_body(table),
        headers={**dataset.header("query-a"), "Content-Type": ARROW, "Accept": ARROW},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == ARROW
    out = read_arrow(r.content)
    assert out.column("status").to_pylist() == expected(dataset, sample).column("status").to_pylist()
    assert out.schema.metadata[b"generation"] == r.headers["X-Snapshot-Generation"].encode()


def test_arrow_in_json_out_and_uint64_serials(client, dataset, sample):
    auth = [i for i in sample if i["issuer"] == "auth_ca_2023"][:50]
    table = pa.table({"issuer": ["auth_ca_2023"] * len(auth), "serial": pa.array([int(i["serial"], 16) for i in auth], pa.uint64())})
    r = client.post("/v1/status", content=arrow_body(table.replace_schema_metadata({"now": NOW})),
                    headers={**dataset.header("query-a"), "Content-Type": ARROW})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert [x["status"] for x in r.json()["results"]] == expected(dataset, auth).column("status").to_pylist()


def test_malformed_serials_are_answered_per_item(client, dataset):
    serials = ["054CFCD8", "xyz", "", "01" * 21, "00" + "7F" + "FF" * 19, "0x" + "5B" * 20, "05:4C:FC:D8"]
    r = client.post("/v1/status", json={"issuer": "auth_ca_2023", "serials": serials, "now": NOW}, headers=dataset.header("query-a"))
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["good", "malformed", "malformed", "malformed", "good", "good", "good"]
    assert all(x["detail"] for x in results if x["status"] == "malformed")
    assert results[5]["serial"] == "5B" * 20  # a 20-octet serial is valid (RFC 5280)
    assert results[6]["serial"] == "054CFCD8"


def test_numbers_are_not_serials(client, dataset):
    r = client.post("/v1/status", json={"issuer": "auth_ca_2023", "serials": [88931544]}, headers=dataset.header("query-a"))
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "malformed"


def test_unknown_issuer_is_unknown_per_item(client, dataset):
    items = [{"issuer": "auth_ca_1999", "serial": "01"}, {"issuer": "auth_ca_2023", "serial": "01"}]
    results = client.post("/v1/status", json={"items": items, "now": NOW}, headers=dataset.header("query-a")).json()["results"]
    assert [x["status"] for x in results] == ["unknown", "good"]


def test_provenance_names_the_crl(client, dataset, sample):
    items = sample[:5]
    body = client.post("/v1/status", json={"items": items, "now": NOW, "provenance": True}, headers=dataset.header("query-a")).json()
    assert all(x["crl_number"] == "20261126" and x["partition"] for x in body["results"])


def test_status_auth(client, dataset):
    body = {"issuer": "auth_ca_2023", "serials": ["01"]}
    assert client.post("/v1/status", json=body).status_code == 401
    assert client.post("/v1/status", json=body, headers=dataset.header("admin")).status_code == 403


@pytest.mark.parametrize(
    "content,content_type,status,location",
    [
        (b'{"issuer": "auth_ca_2023", "serials": [', "application/json", 400, "body"),
        (b'{"issuer": "auth_ca_2023", "serials": []}', "application/json", 422, "/serials"),
        (b'{"items": []}', "application/json", 422, "/items"),
        (b'{"serials": ["01"]}', "application/json", 422, None),
        (b'{"issuer": "auth_ca_2023", "serials": ["01"], "now": "soon"}', "application/json", 422, "/now"),
        (b"issuer,serial\nx,01\n", "text/csv", 415, "header/Content-Type"),
        (b"not arrow", ARROW, 400, None),
    ],
)
def test_bad_bodies_are_clear_4xx(client, dataset, content, content_type, status, location):
    r = client.post("/v1/status", content=content, headers={**dataset.header("query-a"), "Content-Type": content_type})
    assert r.status_code == status, r.text
    if location is not None:
        assert r.json()["location"] == location


def test_more_items_than_the_limit_is_413(config, dataset):
    with TestClient(create_app(config.with_changes(max_items=10))) as small:
        r = small.post("/v1/status", json={"issuer": "auth_ca_2023", "serials": ["01"] * 11}, headers=dataset.header("query-a"))
    assert r.status_code == 413 and "10" in r.json()["message"]


def test_a_big_batch_equals_the_library(client, dataset):
    store = jpki_fast.open_store(dataset.store)
    revoked = dataset.truth.filter(pa.compute.equal(dataset.truth.column("issuer"), "sign_ca_2023")).column("serial").to_pylist()
    rng = np.random.default_rng(3)
    lo = int(min(revoked), 16)
    serials = [revoked[i] for i in rng.integers(0, len(revoked), 3000)] + [f"{lo + int(x):08X}" for x in rng.integers(0, 50_000, 3000)]
    r = client.post("/v1/status", json={"issuer": "sign_ca_2023", "serials": serials, "now": NOW}, headers=dataset.header("query-a"))
    assert r.status_code == 200
    want = store.check(serials, "sign_ca_2023", now=NOW).column("status").to_pylist()
    assert [x["status"] for x in r.json()["results"]] == want
