"""Store: opening, the check API's input forms, provenance, and zero-copy tables."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from cryptography import x509

import jpki_fast
from jpki_fast import ingest, open_store
from conftest import NOW, days_ago, make_crl, partition_text

R = x509.ReasonFlags


@pytest.fixture
def store(ws, auth_ca, sign_ca):
    ws.add_ca(auth_ca)
    ws.add_ca(sign_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [(0x054CFCD8, days_ago(3), R.superseded, None), (0x80, days_ago(4), None, None)],
                                   partition="Sapporo-shi-Minami-ku", number=11))
    ws.write_crl("b.crl", make_crl(auth_ca, [(2**100 + 1, days_ago(2), R.key_compromise, days_ago(9))],
                                   partition="Hakodate-shi", number=12, this_update=NOW - dt.timedelta(hours=5)))
    ws.write_crl("c.crl", make_crl(sign_ca, [(0x054CFCD8, days_ago(1), R.affiliation_changed, None)], partition="Aomori-shi"))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    return open_store(ws.store)


def statuses(table):
    return table.column("status").to_pylist()


@pytest.mark.parametrize(
    "serials",
    [
        [0x054CFCD8, 1, 2**100 + 1],
        ["054CFCD8", "01", hex(2**100 + 1)],
        [b"\x05\x4c\xfc\xd8", b"\x01", (2**100 + 1).to_bytes(13, "big")],
        pa.array(["054cfcd8", "1", format(2**100 + 1, "x")]),
        pa.array([b"\x05\x4c\xfc\xd8", b"\x01", (2**100 + 1).to_bytes(13, "big")]),
        [0x054CFCD8, "01", (2**100 + 1).to_bytes(13, "big")],
    ],
)
def test_every_input_form_gives_the_same_answers(store, serials):
    assert statuses(store.check(serials, "auth_ca_2023", now=NOW)) == ["revoked", "good", "revoked"]


def test_numpy_uint64_input_keeps_order(store):
    q = np.array([1, 0x80, 0x054CFCD8, 0x80, 3], dtype=np.uint64)
    out = store.check(q, "auth_ca_2023", now=NOW)
    assert statuses(out) == ["good", "revoked", "revoked", "revoked", "good"]
    assert out.column("reason").to_pylist() == [None, None, "superseded", None, None]
    assert out.column("revocation_date").to_pylist()[1] == days_ago(4)


def test_per_row_issuers(store):
    out = store.check(["054CFCD8", "054CFCD8", "054CFCD8"], ["auth_ca_2023", "sign_ca_2023", "nobody"], now=NOW)
    assert statuses(out) == ["revoked", "revoked", "unknown"]
    assert out.column("reason").to_pylist() == ["superseded", "affiliationChanged", None]


def test_provenance_names_the_deciding_crl(store):
    out = store.check(["054CFCD8", "01", hex(2**100 + 1)], "auth_ca_2023", now=NOW, provenance=True).to_pylist()
    assert out[0]["partition"] == partition_text("Sapporo-shi-Minami-ku")
    assert out[0]["crl_number"] == "11"
    assert out[0]["this_update"] == NOW - dt.timedelta(hours=3)
    # good: the covering data is every partition of the issuer; the oldest thisUpdate counts.
    assert out[1]["partition"] is None and out[1]["crl_number"] is None
    assert out[1]["this_update"] == NOW - dt.timedelta(hours=5)
    assert out[1]["next_update"] == NOW - dt.timedelta(hours=5) + dt.timedelta(days=2)
    assert out[2]["crl_number"] == "12" and out[2]["invalidity_date"] == days_ago(9)


def test_tables_are_arrow_with_utc_timestamps(store):
    out = store.check([1], "auth_ca_2023", now=NOW)
    assert out.schema.field("revocation_date").type == pa.timestamp("s", tz="UTC")
    assert out.schema.metadata[b"generation"] == b"1"
    entries = store.entries("auth_ca_2023")
    assert entries.column("serial").type == pa.uint64()
    assert entries.column("serial").to_pylist() == [0x80, 0x054CFCD8]  # sorted
    assert entries.column("partition").to_pylist() == [partition_text("Sapporo-shi-Minami-ku")] * 2
    assert store.long_entries("auth_ca_2023").column("serial").to_pylist() == [format(2**100 + 1, "X").zfill(26)]
    all_entries = store.entries()
    assert all_entries.num_rows == 3
    assert set(all_entries.column("issuer").to_pylist()) == {"auth_ca_2023", "sign_ca_2023"}
    parts = store.partitions()
    assert parts.num_rows == 3
    assert set(parts.column("crl_number").to_pylist()) == {"11", "12", "1"}


def test_entries_serial_column_is_a_view_of_the_mapped_file(store):
    serial = store.entries("auth_ca_2023").column("serial").chunk(0)
    mapped = store._batches["entries.arrow"][store.issuer_index("auth_ca_2023")].column(0)
    assert serial.buffers()[1].address == mapped.buffers()[1].address


def test_has_newer_sees_a_new_publish(ws, store, auth_ca):
    assert not store.has_newer()
    ws.write_crl("a.crl", make_crl(auth_ca, [(5, days_ago(1), None, None)], partition="Sapporo-shi-Minami-ku", number=13))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert store.has_newer()
    # The old Store keeps answering from its own generation.
    assert statuses(store.check([5], "auth_ca_2023", now=NOW)) == ["good"]
    assert statuses(open_store(ws.store).check([5], "auth_ca_2023", now=NOW)) == ["revoked"]


def test_empty_input(store):
    out = store.check([], "auth_ca_2023", now=NOW)
    assert out.num_rows == 0 and out.column_names == ["status", "reason", "revocation_date", "invalidity_date"]


def test_large_batch_matches_python_set(store):
    rng = np.random.default_rng(5)
    q = rng.integers(0, 2**32, 200_000, dtype=np.uint64)
    q[::1000] = 0x054CFCD8
    out = store.check(q, "auth_ca_2023", now=NOW)
    revoked = {0x054CFCD8, 0x80}
    expected = ["revoked" if int(v) in revoked else "good" for v in q]
    assert statuses(out) == expected


def test_missing_and_damaged_stores_are_named(tmp_path, store):
    with pytest.raises(jpki_fast.StoreError, match="store not found"):
        open_store(tmp_path / "nope")
    gen = store.path
    (gen / "entries.arrow").write_bytes((gen / "entries.arrow").read_bytes()[:-100])
    with pytest.raises(jpki_fast.StoreCorruptedError, match="entries.arrow"):
        open_store(store.root)
