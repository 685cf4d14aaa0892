"""jpki_fast.wire: batch status codecs (JSON and Arrow IPC), checked against Store.check."""

from __future__ import annotations

import datetime as dt
import json
import random

import numpy as np
import pyarrow as pa
import pytest
from cryptography import x509

from jpki_fast import ingest, open_store, wire
from jpki_fast.wire import WireError, check_status, decode_status_arrow, decode_status_json, encode_status_arrow, encode_status_json
from conftest import NOW, NOW_ISO, days_ago, make_crl

R = x509.ReasonFlags
LONG20 = 2**158 + 0x1234  # 20 octets
LONG13 = 2**100 + 1
REVOKED_SHORT = [0x054CFCD8, 0x80] + [0x1000 + 7 * i for i in range(300)]


@pytest.fixture(scope="module")
def store(tmp_path_factory, auth_ca, sign_ca):
    from conftest import Workspace

    ws = Workspace(tmp_path_factory.mktemp("wire"))
    ws.crls.mkdir(parents=True)
    ws.add_ca(auth_ca)
    ws.add_ca(sign_ca)
    reasons = [R.superseded, R.key_compromise, R.cessation_of_operation, None]
    entries = [(s, days_ago(1 + i % 30), reasons[i % 4], None) for i, s in enumerate(REVOKED_SHORT)]
    ws.write_crl("a.crl", make_crl(auth_ca, entries, partition="Sapporo-shi-Minami-ku", number=11))
    ws.write_crl("b.crl", make_crl(auth_ca, [(LONG13, days_ago(2), R.key_compromise, None), (LONG20, days_ago(3), None, None)],
                                   partition="Hakodate-shi", number=12, this_update=NOW - dt.timedelta(hours=5)))
    ws.write_crl("c.crl", make_crl(sign_ca, [(0x054CFCD8, days_ago(1), R.affiliation_changed, None)], partition="Aomori-shi"))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    return open_store(ws.store)


def body(**doc) -> bytes:
    return json.dumps(doc).encode()


def run_json(store, doc: dict | bytes, **kw):
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    result = check_status(store, decode_status_json(raw, **kw))
    return result, json.loads(encode_status_json(result))


def raises(fn, status: int, location: str, match: str | None = None) -> WireError:
    with pytest.raises(WireError) as info:
        fn()
    err = info.value
    assert (err.http_status, err.location) == (status, location), (err.http_status, err.location, str(err))
    if match:
        assert match in str(err), str(err)
    return err


# ---- JSON shapes ------------------------------------------------------------------------------


def test_single_issuer_form_answers_like_store_check(store):
    serials = ["054CFCD8", "0x54cfcd8", "05:4C:FC:D8", " 80 ", "01", format(LONG13, "X"), "0x" + format(LONG20, "x"), "1235"]
    result, doc = run_json(store, {"issuer": "auth_ca_2023", "serials": serials, "now": NOW_ISO})
    want = store.check(serials, "auth_ca_2023", now=NOW)
    assert result.table.column("status").to_pylist() == want.column("status").to_pylist()
    assert result.table.column("reason").to_pylist() == want.column("reason").to_pylist()
    assert result.table.column("revocation_date").to_pylist() == want.column("revocation_date").to_pylist()
    assert [r["serial"] for r in doc["results"]] == ["054CFCD8"] * 3 + ["80", "01", format(LONG13, "X"), format(LONG20, "X"), "1235"]
    assert doc["generation"] == store.generation and doc["checked_at"] == NOW_ISO
    first = doc["results"][0]
    assert first == {"serial": "054CFCD8", "issuer": "auth_ca_2023", "status": "revoked", "reason": "superseded",
                     "revocation_date": "2026-11-25T00:00:00Z"}
    assert all(r["issuer"] == "auth_ca_2023" for r in doc["results"])
    assert result.counts == {"good": 2, "revoked": 6, "stale": 0, "unknown": 0, "malformed": 0}


def test_items_form_with_unknown_issuers(store):
    items = [
        {"issuer": "auth_ca_2023", "serial": "054CFCD8"},
        {"serial": "054CFCD8", "issuer": "sign_ca_2023"},
        {"issuer": "nobody", "serial": "054CFCD8"},
        {"issuer": "auth_ca_2023", "serial": "zz"},
        {"issuer": "nobody", "serial": "zz"},
        {"issuer": "auth_ca_2023", "serial": "02"},
    ]
    result, doc = run_json(store, {"items": items, "now": NOW_ISO})
    assert [r["status"] for r in doc["results"]] == ["revoked", "revoked", "unknown", "malformed", "malformed", "good"]
    assert [r["issuer"] for r in doc["results"]] == [i["issuer"] for i in items]
    assert doc["results"][1]["reason"] == "affiliationChanged"
    assert doc["results"][2]["detail"].startswith("the issuer is not in this store's trust store")
    assert doc["results"][3]["serial"] == "zz" and "not a hexadecimal serial" in doc["results"][3]["detail"]
    assert "detail" not in doc["results"][0] and "detail" not in doc["results"][5]
    assert result.counts["malformed"] == 2 and result.counts["unknown"] == 1


def test_issuer_by_key_identifier(store, auth_ca):
    kid = auth_ca.ski.digest.hex()
    _, doc = run_json(store, {"issuer": kid, "serials": ["054CFCD8"], "now": NOW_ISO})
    assert doc["results"][0]["status"] == "revoked" and doc["results"][0]["issuer"] == kid


def test_unknown_issuer_single_form(store):
    result, doc = run_json(store, {"issuer": "x" * 500, "serials": ["01", "bad!"], "now": NOW_ISO})
    assert [r["status"] for r in doc["results"]] == ["unknown", "malformed"]
    assert len(doc["results"][0]["detail"]) < 120  # a long issuer name is shortened in the detail


@pytest.mark.parametrize(
    "value, detail",
    [
        ("", "empty serial"),
        ("0x", "empty serial"),
        (":", "empty serial"),
        ("12G4", "not a hexadecimal serial"),
        ("--12", "not a hexadecimal serial"),
        ("1" * 41, "serial of 21 octets (as a DER INTEGER) exceeds the 20-octet limit"),
        ("ff" * 21, "serial of 21 octets"),
        ("ff" * 20, "serial of 21 octets"),  # the top bit set: a sign octet makes 21
        ("1" * 1001, "serial of 501 octets"),
        (None, "missing (null) serial"),
        (12345, "a JSON number, not a string"),
        (10**400, "a JSON number"),
        (-1, "a JSON number"),
        (1.5e300, "a JSON number"),
        (True, "a JSON boolean"),
        ({"a": [1, {"b": None}]}, "a JSON object"),
        ([[[["deep"]]]], "a JSON array"),
    ],
)
def test_malformed_serials_are_reported_per_item(store, value, detail):
    result, doc = run_json(store, {"issuer": "auth_ca_2023", "serials": ["01", value, "054CFCD8"], "now": NOW_ISO})
    assert [r["status"] for r in doc["results"]] == ["good", "malformed", "revoked"]
    bad = doc["results"][1]
    assert detail in bad["detail"]
    assert bad["serial"] == (value if isinstance(value, str) else None)
    assert bad["reason"] is None and bad["revocation_date"] is None
    if isinstance(value, str) and value:
        assert value not in bad["detail"]  # details never echo the serial


def test_serial_lengths_1_20_21_octets(store):
    twenty = "7" + "1" * 39  # 20 octets as a DER INTEGER: the most RFC 5280 allows
    serials = ["7F", "00" * 30 + "7F", format(LONG20, "x"), "00" + format(LONG20, "x"), twenty, "1" + twenty,
               "8" + "1" * 39, "ff" * 20 + "00"]
    result, doc = run_json(store, {"issuer": "auth_ca_2023", "serials": serials, "now": NOW_ISO})
    assert [r["status"] for r in doc["results"]] == ["good", "good", "revoked", "revoked", "good", "malformed", "malformed", "malformed"]
    assert [r["serial"] for r in doc["results"]][:5] == ["7F", "7F", format(LONG20, "X"), format(LONG20, "X"), twenty]
    keys = result.serial_keys
    assert keys.shape == (8, 20)
    assert bytes(keys[0]) == bytes(19) + b"\x7f"
    assert bytes(keys[2]) == LONG20.to_bytes(20, "big")
    assert bytes(keys[5]) == bytes(20)


def test_escaped_strings_and_whitespace(store):
    raw = (
        b'\xef\xbb\xbf {"serials" : [ "\\u0030\\u0035\\u0034CFCD8" , "\\u00e9" ]\n,'
        b' "issuer":"auth_\\u0063a_2023", "now":"2026-11-26T00:00:00Z"} \n'
    )
    _, doc = run_json(store, raw)
    assert [r["status"] for r in doc["results"]] == ["revoked", "malformed"]
    assert doc["results"][0]["issuer"] == "auth_ca_2023"
    assert doc["results"][1]["serial"] == "\u00e9"


def test_now_and_provenance(store):
    later = "2026-12-30T00:00:00Z"  # past every nextUpdate: not revoked means stale
    result, doc = run_json(store, {"issuer": "auth_ca_2023", "serials": ["01", "054CFCD8", "x"], "now": later, "provenance": True})
    assert [r["status"] for r in doc["results"]] == ["stale", "revoked", "malformed"]
    assert doc["checked_at"] == later
    r = doc["results"][1]
    assert r["partition"].endswith("CN=Sapporo-shi-Minami-ku CRLDP") and r["crl_number"] == "11"
    assert r["this_update"] == "2026-11-25T21:00:00Z" and r["next_update"] == "2026-11-27T21:00:00Z"
    assert set(doc["results"][0]) >= {"partition", "crl_number", "this_update", "next_update"}
    want = store.check(["01", "054CFCD8"], "auth_ca_2023", now=later, provenance=True)
    for name in ("partition", "crl_number", "this_update", "next_update"):
        assert result.table.column(name).to_pylist()[:2] == want.column(name).to_pylist()
    # The caller's clock wins over the body's.
    result = check_status(store, decode_status_json(body(issuer="auth_ca_2023", serials=["01"], now=later)), now=NOW)
    assert result.table.column("status").to_pylist() == ["good"] and result.checked_at == NOW_ISO
    assert decode_status_json(body(issuer="a", serials=["01"], now=None, provenance=None)).now is None


def test_default_now_is_the_current_time(store):
    result = check_status(store, decode_status_json(body(issuer="auth_ca_2023", serials=["01"])))
    checked = dt.datetime.strptime(result.checked_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    assert abs((checked - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 60


# ---- bodies that cannot be read ---------------------------------------------------------------


def test_invalid_json_names_the_position():
    err = raises(lambda: decode_status_json(b'{"issuer": "a",\n "serials": ["01" "02"]}'), 400, "body", "line 2, column 19")
    assert "byte offset 34" in str(err)
    raises(lambda: decode_status_json(b""), 400, "body", "invalid JSON")
    raises(lambda: decode_status_json(b'{"issuer": "a", "serials": ["01"]} x'), 400, "body", "invalid JSON")
    raises(lambda: decode_status_json(b'{"issuer": "a", "serials": ["01",]}'), 400, "body", "invalid JSON")
    raises(lambda: decode_status_json(b'{"issuer": "a", "serials": [NaN]}'), 400, "body", "invalid JSON")
    raises(lambda: decode_status_json(b'{"issuer": "a", "serials": ["\x01"]}'), 400, "body", "invalid JSON")
    raises(lambda: decode_status_json(b'{"issuer": "a", "serials": ["\\x"]}'), 400, "body", "invalid JSON")
    raises(lambda: decode_status_json(b'{"issuer": "a", "serials": [01]}'), 400, "body", "invalid JSON")


def test_non_utf8_body():
    raises(lambda: decode_status_json(b'{"issuer": "a", "serials": ["0\xff1"]}'), 400, "body", "not valid UTF-8 (byte offset 30)")
    raises(lambda: decode_status_json('{"issuer": "a", "serials": ["01"]}'.encode("utf-16")), 400, "body")


def test_nesting_too_deep_is_refused_not_crashed():
    deep = b'{"issuer": "a", "serials": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    raises(lambda: decode_status_json(deep), 400, "body", "nest")


@pytest.mark.parametrize(
    "raw, status, location, match",
    [
        (b"[]", 422, "body", "expected a JSON object"),
        (b'"x"', 422, "body", "expected a JSON object"),
        (b"{}", 422, "/serials", "required"),
        (b'{"serials": ["01"]}', 422, "/issuer", "required"),
        (b'{"issuer": 7, "serials": ["01"]}', 422, "/issuer", "expected a string"),
        (b'{"issuer": "a", "serials": "01"}', 422, "/serials", "expected an array"),
        (b'{"issuer": "a", "serials": []}', 422, "/serials", "empty batch"),
        (b'{"items": []}', 422, "/items", "empty batch"),
        (b'{"items": {}}', 422, "/items", "expected an array"),
        (b'{"items": [{"issuer": "a", "serial": "01"}, 5]}', 422, "/items/1", "expected an object"),
        (b'{"items": [{"serial": "01"}]}', 422, "/items/0/issuer", "required"),
        (b'{"items": [{"issuer": "a"}]}', 422, "/items/0/serial", "required"),
        (b'{"items": [{"issuer": null, "serial": "01"}]}', 422, "/items/0/issuer", "expected a string"),
        (b'{"items": [{"issuer": "a", "serial": "01", "ref": 1}]}', 422, "/items/0/ref", "unknown field"),
        (b'{"items": [{"issuer": "a", "serial": "01", "serial": "02"}]}', 422, "/items/0/serial", "more than once"),
        (b'{"issuer": "a", "issuer": "b", "serials": ["01"]}', 422, "/issuer", "more than once"),
        (b'{"issuer": "a", "serials": ["01"], "provenence": true}', 422, "/provenence", "unknown field"),
        (b'{"issuer": "a", "serials": ["01"], "items": []}', 422, "/serials", "not both"),
        (b'{"issuer": "a", "items": [{"issuer": "a", "serial": "01"}]}', 422, "/issuer", "not allowed with items"),
        (b'{"issuer": "a", "serials": ["01"], "now": "yesterday"}', 422, "/now", "ISO 8601"),
        (b'{"issuer": "a", "serials": ["01"], "now": 1e999}', 422, "/now", "expected an ISO 8601"),
        (b'{"issuer": "a", "serials": ["01"], "now": "99999-01-01T00:00:00Z"}', 422, "/now", "ISO 8601"),
        (b'{"issuer": "a", "serials": ["01"], "provenance": "yes"}', 422, "/provenance", "true or false"),
        (b'{"issuer": "a", "serials": ["01"], "a/b": 1}', 422, "/a~1b", "unknown field"),
    ],
)
def test_wrong_shapes_name_the_field(raw, status, location, match):
    raises(lambda: decode_status_json(raw), status, location, match)


def test_too_many_items():
    raises(lambda: decode_status_json(body(issuer="a", serials=["01"] * 11), max_items=10), 413, "/serials", "more than 10 items")
    raises(lambda: decode_status_json(body(items=[{"issuer": "a", "serial": "01"}] * 4), max_items=3), 413, "/items")
    assert decode_status_json(body(issuer="a", serials=["01"] * 10), max_items=10).n == 10


def test_errors_never_echo_serials():
    secret = "5EC12E7"
    for raw in (
        ('{"issuer": "a", "serials": ["%s"' % secret).encode(),
        ('{"issuer": "a", "serials": ["%s"], "x": 1}' % secret).encode(),
        ('{"items": [{"issuer": "a", "serial": "%s", "serial": "1"}]}' % secret).encode(),
    ):
        with pytest.raises(WireError) as info:
            decode_status_json(raw)
        assert secret not in str(info.value) and secret not in info.value.location
    assert secret not in repr(decode_status_json(body(issuer="a", serials=[secret])))
    err = WireError("m", 413, "/serials")
    assert err.to_dict() == {"error": "m", "location": "/serials", "status": 413}


# ---- generated data ---------------------------------------------------------------------------


def _spelling(rng: random.Random, value: int) -> str:
    text = format(value, "x")
    if len(text) % 2 and rng.random() < 0.5:
        text = "0" + text
    text = text.upper() if rng.random() < 0.5 else text
    if rng.random() < 0.2:
        text = ":".join(text[i:i + 2] for i in range(0, len(text), 2))
    if rng.random() < 0.1:
        text = "000" + text
    if rng.random() < 0.2:
        text = "0x" + text
    return text


def _generated(rng: random.Random, n: int) -> list[int]:
    pool = REVOKED_SHORT + [LONG13, LONG20]
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.3:
            out.append(rng.choice(pool))
        elif r < 0.5:
            out.append(rng.getrandbits(rng.choice([8, 16, 32, 64])))
        elif r < 0.6:
            out.append(rng.getrandbits(rng.choice([72, 100, 152, 159])))  # below 2^159: 20 DER octets
        else:
            out.append(0x1000 + rng.randrange(3000))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_single_issuer_rows_equal_store_check(store, seed):
    rng = random.Random(seed)
    values = _generated(rng, 3000)
    texts = [_spelling(rng, v) for v in values]
    bad = set(rng.sample(range(len(texts)), 100))
    for i in bad:
        texts[i] = rng.choice(["", "0xg1", "1" * 41, "12 34", "--"])
    issuer = rng.choice(["auth_ca_2023", "sign_ca_2023"])
    result, doc = run_json(store, {"issuer": issuer, "serials": texts, "now": NOW_ISO})
    good_rows = [i for i in range(len(texts)) if i not in bad]
    want = store.check([values[i] for i in good_rows], issuer, now=NOW).to_pylist()
    got = result.table.to_pylist()
    for k, i in enumerate(good_rows):
        assert got[i]["status"] == want[k]["status"], i
        assert got[i]["reason"] == want[k]["reason"], i
        assert got[i]["revocation_date"] == want[k]["revocation_date"], i
        assert got[i]["serial"] == format(values[i], "X").rjust(2 * ((values[i].bit_length() + 7) // 8 or 1), "0"), i
    for i in bad:
        assert got[i]["status"] == "malformed" and got[i]["serial"] == texts[i]
    assert json.loads(encode_status_json(result))["results"] == [_as_json(r) for r in got]


@pytest.mark.parametrize("seed", [4, 5])
def test_generated_items_rows_equal_store_check(store, seed):
    rng = random.Random(seed)
    values = _generated(rng, 2000)
    issuers = [rng.choice(["auth_ca_2023", "sign_ca_2023", "nobody", "auth_ca_2023"]) for _ in values]
    items = [{"issuer": i, "serial": _spelling(rng, v)} for i, v in zip(issuers, values)]
    result, doc = run_json(store, {"items": items, "now": NOW_ISO, "provenance": True})
    want = store.check(values, issuers, now=NOW, provenance=True).to_pylist()
    got = result.table.to_pylist()
    for i, (g, w) in enumerate(zip(got, want)):
        for name in ("status", "reason", "revocation_date", "partition", "crl_number", "this_update", "next_update"):
            assert g[name] == w[name], (i, name)
        assert g["issuer"] == issuers[i]
    assert doc["results"] == [_as_json(r) for r in got]


def _as_json(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if k == "detail" and v is None:
            continue
        out[k] = v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, dt.datetime) else v
    return out


# ---- Arrow ------------------------------------------------------------------------------------


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def read_ipc(raw: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(raw)).read_all()


@pytest.mark.parametrize(
    "serial",
    [
        pa.array(["054CFCD8", "01", format(LONG20, "x"), "zz", None, "1" * 41]),
        pa.array(["054CFCD8", "01", format(LONG20, "x"), "zz", None, "1" * 41], pa.large_string()),
        pa.array([b"\x05\x4c\xfc\xd8", b"\x01", LONG20.to_bytes(20, "big"), b"", None, b"\x01" * 21]),
        pa.array([b"\x05\x4c\xfc\xd8", b"\x01", LONG20.to_bytes(20, "big"), b"", None, b"\x01" * 21], pa.large_binary()),
    ],
)
def test_arrow_round_trip(store, serial):
    issuers = pa.array(["auth_ca_2023"] * 5 + ["sign_ca_2023"]).dictionary_encode()
    raw = ipc(pa.table({"issuer": issuers, "serial": serial}).replace_schema_metadata({"now": NOW_ISO}))
    request = decode_status_arrow(raw)
    assert request.n == 6
    result = check_status(store, request)
    out = read_ipc(encode_status_arrow(result))
    assert out.schema.metadata[b"generation"] == str(store.generation).encode()
    assert out.schema.metadata[b"checked_at"] == NOW_ISO.encode()
    assert out.column("status").to_pylist() == ["revoked", "good", "revoked", "malformed", "malformed", "malformed"]
    assert out.column("serial").to_pylist()[:3] == ["054CFCD8", "01", format(LONG20, "X")]
    details = out.column("detail").to_pylist()
    assert details[4] == "missing (null) serial" and "21 octets" in details[5]
    assert out.column("issuer").to_pylist() == ["auth_ca_2023"] * 5 + ["sign_ca_2023"]
    assert out.to_pylist() == pa.Table.from_batches([result.table]).to_pylist()


def test_arrow_integer_serials_and_metadata_issuer(store):
    t = pa.table({"serial": pa.array([0x054CFCD8, 1, None, 0x80], pa.uint64())})
    t = t.replace_schema_metadata({"issuer": "auth_ca_2023", "now": NOW_ISO, "provenance": "true"})
    result = check_status(store, decode_status_arrow(ipc(t)))
    assert result.table.column("status").to_pylist() == ["revoked", "good", "malformed", "revoked"]
    assert "crl_number" in result.table.schema.names
    signed = pa.table({"issuer": ["auth_ca_2023"] * 2, "serial": pa.array([-1, 0x80], pa.int64())})
    result = check_status(store, decode_status_arrow(ipc(signed)), now=NOW)
    assert result.table.column("status").to_pylist() == ["malformed", "revoked"]
    assert result.table.column("detail").to_pylist()[0] == "serial numbers are non-negative"


def test_arrow_many_batches_and_limits(store):
    t = pa.table({"issuer": ["auth_ca_2023"] * 6, "serial": ["01", "02", "054CFCD8", "04", "05", "06"]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as w:
        for b in t.to_batches(max_chunksize=2):
            w.write_batch(b)
    raw = sink.getvalue().to_pybytes()
    result = check_status(store, decode_status_arrow(raw), now=NOW)
    assert result.table.column("status").to_pylist() == ["good", "good", "revoked", "good", "good", "good"]
    raises(lambda: decode_status_arrow(raw, max_items=5), 413, "body", "more than 5 items")


@pytest.mark.parametrize(
    "make, status, location, match",
    [
        (lambda: b"not arrow", 400, "body", "not a readable Arrow IPC stream"),
        (lambda: b"", 400, "body", "not a readable Arrow IPC stream"),
        (lambda: ipc(pa.table({"issuer": ["a"], "serial": ["01"]}))[:-20], 400, "body", None),
        (lambda: ipc(pa.table({"issuer": ["a"], "number": ["01"]})), 422, "/serial", "no 'serial' column"),
        (lambda: ipc(pa.table({"serial": ["01"]})), 422, "/issuer", "no 'issuer' column"),
        (lambda: ipc(pa.table({"issuer": [1], "serial": ["01"]})), 422, "/issuer", "unsupported issuer column type"),
        (lambda: ipc(pa.table({"issuer": ["a", None], "serial": ["01", "02"]})), 422, "/issuer/1", "missing (null) issuer"),
        (lambda: ipc(pa.table({"issuer": ["a"], "serial": [1.5]})), 422, "/serial", "unsupported serial column type"),
        (lambda: ipc(pa.table({"issuer": pa.array([], pa.string()), "serial": pa.array([], pa.string())})), 422, "body", "empty batch"),
        (
            lambda: ipc(pa.table({"issuer": ["a"], "serial": ["01"]}).replace_schema_metadata({"now": "soon"})),
            422,
            "schema metadata: now",
            "ISO 8601",
        ),
    ],
)
def test_arrow_bad_bodies(make, status, location, match):
    raises(lambda: decode_status_arrow(make()), status, location, match)


def test_arrow_bytes_that_are_not_utf8(store):
    bad = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(np.array([0, 2, 4], np.int32)), pa.py_buffer(b"\xff\xfe01")])
    raw = ipc(pa.table({"issuer": ["auth_ca_2023"] * 2, "serial": bad}))
    result = check_status(store, decode_status_arrow(raw), now=NOW)
    assert result.table.column("status").to_pylist() == ["malformed", "good"]
    assert result.table.column("serial").to_pylist() == [None, "01"]  # not UTF-8: not echoed
    issuers = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(np.array([0, 1], np.int32)), pa.py_buffer(b"\xff")])
    raises(lambda: decode_status_arrow(ipc(pa.table({"issuer": issuers, "serial": ["01"]}))), 400, "/issuer", "damaged")
    offsets = pa.py_buffer(np.array([0, 9, 2], np.int32))  # past the data, then backwards
    broken = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"0102")])
    with pytest.raises(WireError) as info:
        check_status(store, decode_status_arrow(ipc(pa.table({"issuer": ["a", "a"], "serial": broken}))))
    assert info.value.http_status == 400


def test_json_and_arrow_requests_agree(store):
    rng = random.Random(9)
    values = _generated(rng, 500)
    texts = [_spelling(rng, v) for v in values]
    issuers = [rng.choice(["auth_ca_2023", "sign_ca_2023", "nobody"]) for _ in values]
    from_json = check_status(store, decode_status_json(body(items=[{"issuer": i, "serial": s} for i, s in zip(issuers, texts)])), now=NOW)
    from_arrow = check_status(store, decode_status_arrow(ipc(pa.table({"issuer": issuers, "serial": texts}))), now=NOW)
    assert from_json.table.to_pylist() == from_arrow.table.to_pylist()
    assert from_json.counts == from_arrow.counts


def test_statuses_constant():
    assert wire.WIRE_STATUSES == ("good", "revoked", "stale", "unknown", "malformed")


# ---- the scanner against the standard library's JSON parser -----------------------------------


def _python_accepts(raw: bytes) -> bool:
    def no_constants(name):
        raise ValueError(name)

    try:
        json.loads(raw.decode("utf-8-sig"), parse_constant=no_constants)
        return True
    except (ValueError, RecursionError):
        return False


def test_syntax_errors_match_the_standard_library():
    """Random edits of valid bodies: the scanner refuses (400) exactly what json.loads refuses."""
    rng = random.Random(11)
    seeds = [
        body(issuer="auth_ca_2023", serials=["054CFCD8", "0x1", None, 12, [1, {"a": "b"}], "é", True]),
        body(items=[{"issuer": "a", "serial": "01"}, {"serial": {"x": [1.5e3, -0, "\\"]}, "issuer": "b"}], now=NOW_ISO, provenance=False),
        b'{"issuer":"a","serials":["\\u0041\\n\\"\\/",  -1.25E+7 , false]}',
    ]
    alphabet = b'{}[],:" \\\t\n0123456789-+.eEtrufalsn\x00\x1f\x7f\xc3\xa9\xff\x80'
    checked = 0
    for _ in range(3000):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            op, pos = rng.random(), rng.randrange(len(raw) + 1)
            if op < 0.4:
                raw[pos:pos] = bytes([rng.choice(alphabet)])
            elif op < 0.7 and pos < len(raw):
                del raw[pos]
            elif pos < len(raw):
                raw[pos] = rng.choice(alphabet)
        raw = bytes(raw)
        try:
            decode_status_json(raw)
            ours = True
        except WireError as err:
            if "surrogate" in str(err):
                continue  # json.loads lets unpaired surrogates through; we refuse them
            assert err.http_status in (400, 413, 422), err
            ours = err.http_status != 400
            if err.http_status == 400:
                assert "byte offset" in str(err)
        assert ours == _python_accepts(raw), raw
        checked += 1
    assert checked > 2900
