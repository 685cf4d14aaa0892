"""History and diffs: what changed between generations, exactly."""

from __future__ import annotations

import random

import pytest
from cryptography import x509

from jpki_fast import StoreError, ingest
from jpki_fast.history import diff, generations
from conftest import NOW, days_ago, make_crl, partition_text

R = x509.ReasonFlags
NAMES = {R.superseded: "superseded", R.certificate_hold: "certificateHold", R.affiliation_changed: "affiliationChanged", None: None}


def entries_for(serials, reason=None):
    """Entries whose revocation date is a function of the serial, so it is stable across runs."""
    return [(s, days_ago(s % 900 + 1), reason, None) for s in serials]


def test_diff_equals_the_set_difference(ws, auth_ca, sign_ca):
    ws.add_ca(auth_ca)
    ws.add_ca(sign_ca)
    rng = random.Random(3)
    a1 = set(rng.sample(range(1, 50_000), 4000))
    b1 = set(rng.sample(range(50_000, 90_000), 3000))  # partitions of one issuer never share a serial
    s1 = set(rng.sample(range(1, 50_000), 2000))
    ws.write_crl("auth/a.crl", make_crl(auth_ca, entries_for(sorted(a1), R.superseded), partition="A", number=1))
    ws.write_crl("auth/b.crl", make_crl(auth_ca, entries_for(sorted(b1), R.superseded), partition="B", number=1))
    ws.write_crl("sign/c.crl", make_crl(sign_ca, entries_for(sorted(s1), R.affiliation_changed), partition="C", number=1))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)

    a2 = (a1 - set(rng.sample(sorted(a1), 500))) | set(rng.sample(range(100_000, 110_000), 700))
    s2 = s1 | {99_999_999}
    ws.write_crl("auth/a.crl", make_crl(auth_ca, entries_for(sorted(a2), R.superseded), partition="A", number=2))
    ws.write_crl("sign/c.crl", make_crl(sign_ca, entries_for(sorted(s2), R.affiliation_changed), partition="C", number=2))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)  # b.crl unchanged

    table = diff(ws.store)
    assert table.schema.metadata[b"from_generation"] == b"1" and table.schema.metadata[b"to_generation"] == b"2"
    rows = table.to_pylist()
    got = [(r["issuer"], int(r["serial"], 16), r["change"]) for r in rows]
    want = {("auth_ca_2023", s, "added") for s in a2 - a1} | {("auth_ca_2023", s, "removed") for s in a1 - a2}
    want |= {("sign_ca_2023", s, "added") for s in s2 - s1}
    assert len(got) == len(set(got)) and set(got) == want
    for r in rows:
        assert r["partition"] == partition_text("A" if r["issuer"] == "auth_ca_2023" else "C")
        assert r["revocation_date"] == days_ago(int(r["serial"], 16) % 900 + 1)
        assert r["old_reason"] is None and r["old_revocation_date"] is None


def test_changed_reason_and_partition_are_reported(ws, auth_ca):
    ws.add_ca(auth_ca)
    when = days_ago(5)
    ws.write_crl("a.crl", make_crl(auth_ca, [(7, when, R.certificate_hold, None), (8, when, None, None)], partition="A", number=1))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    ws.clear_crls()
    ws.write_crl("a.crl", make_crl(auth_ca, [(7, when, R.superseded, None)], partition="A", number=2))
    ws.write_crl("b.crl", make_crl(auth_ca, [(8, when, None, None)], partition="B", number=1))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    rows = {int(r["serial"], 16): r for r in diff(ws.store).to_pylist()}
    assert rows[7]["change"] == "changed"
    assert rows[7]["reason"] == "superseded" and rows[7]["old_reason"] == "certificateHold"
    assert rows[8]["change"] == "changed"
    assert rows[8]["partition"] == partition_text("B") and rows[8]["old_partition"] == partition_text("A")


def test_identical_generations_have_an_empty_diff(ws, auth_ca):
    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, entries_for(range(1, 100)), partition="A", number=1))
    ws.write_crl("b.crl", make_crl(auth_ca, entries_for(range(200, 300)), partition="B", number=1))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    ws.write_crl("b.crl", make_crl(auth_ca, entries_for(range(200, 300)), partition="B", number=2))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert diff(ws.store).num_rows == 0


def test_explicit_generations_and_errors(ws, auth_ca):
    ws.add_ca(auth_ca)
    for n in (1, 2, 3):
        ws.write_crl("a.crl", make_crl(auth_ca, entries_for(range(1, n + 1)), partition="A", number=n))
        ingest(ws.trust, ws.crls, ws.store, now=NOW, keep=2)
    assert [g.generation for g in generations(ws.store)] == [2, 3]
    assert generations(ws.store)[-1].current
    t = diff(ws.store, from_generation=2, to_generation=3)
    assert [(r["serial"], r["change"]) for r in t.to_pylist()] == [("03", "added")]
    reverse = diff(ws.store, from_generation=3, to_generation=2)
    assert [(r["serial"], r["change"]) for r in reverse.to_pylist()] == [("03", "removed")]
    with pytest.raises(StoreError, match="generations kept: 2, 3"):
        diff(ws.store, from_generation=1)


def test_first_generation_has_nothing_to_diff_against(ws, auth_ca):
    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [], partition="A"))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    with pytest.raises(StoreError, match="no earlier generation"):
        diff(ws.store)
