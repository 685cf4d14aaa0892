"""Daily operations: partition-aware publishing, rollback protection, integrity, ARLs.

Every behaviour is asserted on the answers the published store gives, not only on summaries.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from cryptography import x509

from jpki_fast import StoreCorruptedError, ingest, open_store
from jpki_fast.cli import main
from jpki_fast.store import rollback, verify_generation
from conftest import NOW, days_ago, make_crl

R = x509.ReasonFlags
DAY = dt.timedelta(days=1)


def status(store_dir, serials, issuer="auth_ca_2023", now=NOW):
    return open_store(store_dir).check(serials, issuer, now=now).column("status").to_pylist()


@pytest.fixture
def day1(ws, auth_ca):
    """Two partitions published: A revokes 1, B revokes 2."""
    ws.add_ca(auth_ca)
    ws.write_crl("A.crl", make_crl(auth_ca, [(1, days_ago(3), R.superseded, None)], partition="A", number=10))
    ws.write_crl("B.crl", make_crl(auth_ca, [(2, days_ago(3), R.superseded, None)], partition="B", number=20))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert status(ws.store, [1, 2, 3]) == ["revoked", "revoked", "good"]
    return ws


def test_rollback_to_a_lower_crl_number_is_refused(day1, auth_ca):
    day1.write_crl("A.crl", make_crl(auth_ca, [], partition="A", number=9))  # an older CRL replayed
    summary = ingest(day1.trust, day1.crls, day1.store, now=NOW)
    [refused] = summary.refused
    assert refused.error_kind == "rollback" and "lower than the 10 already held" in refused.message
    assert status(day1.store, [1, 2]) == ["revoked", "revoked"]  # 1 did not come back to life


def test_same_number_with_different_content_is_refused(day1, auth_ca):
    day1.write_crl("A.crl", make_crl(auth_ca, [], partition="A", number=10))
    summary = ingest(day1.trust, day1.crls, day1.store, now=NOW)
    assert summary.refused[0].error_kind == "conflict"
    assert status(day1.store, [1]) == ["revoked"]


def test_identical_reingest_is_a_no_op(day1):
    before = open_store(day1.store).generation
    summary = ingest(day1.trust, day1.crls, day1.store, now=NOW)
    assert not summary.published and len(summary.unchanged) == 2 and not summary.refused
    assert open_store(day1.store).generation == before


def test_truncated_download_keeps_the_previous_crl(day1, auth_ca):
    new = make_crl(auth_ca, [(1, days_ago(3), R.superseded, None), (5, days_ago(1), None, None)], partition="A", number=11)
    day1.write_crl("A.crl", new[: len(new) - 40])
    summary = ingest(day1.trust, day1.crls, day1.store, now=NOW)
    assert summary.refused[0].path == "A.crl" and summary.refused[0].error_kind == "malformed"
    assert status(day1.store, [1, 5]) == ["revoked", "good"]
    assert open_store(day1.store).partitions().column("crl_number").to_pylist() == ["10", "20"]


def test_missing_partition_keeps_its_crl_and_turns_stale_after_next_update(day1, auth_ca):
    (day1.crls / "B.crl").unlink()
    next_day = NOW + DAY
    day1.write_crl("A.crl", make_crl(auth_ca, [(1, days_ago(3), R.superseded, None)], partition="A", number=11,
                                     this_update=next_day - dt.timedelta(hours=1)))
    summary = ingest(day1.trust, day1.crls, day1.store, now=next_day)
    assert [m["name"] for m in summary.missing] == [
        "C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points, OU=Hokkaido, CN=B CRLDP"
    ]
    assert summary.published
    # B's CRL is still held: serial 2 stays revoked, and good answers hold while B is fresh.
    assert status(day1.store, [2, 3], now=next_day) == ["revoked", "good"]
    # Past B's nextUpdate (thisUpdate + 2 days), unpartitioned answers are stale: fail closed.
    later = NOW + dt.timedelta(days=1, hours=22)
    assert status(day1.store, [2, 3], now=later) == ["revoked", "stale"]


def test_partition_past_next_update_next_to_fresh_ones(ws, auth_ca):
    """Certificate checks judge their own partition: one stale partition does not make a
    certificate of a fresh partition stale, and vice versa."""
    ws.add_ca(auth_ca)
    soon = NOW - dt.timedelta(hours=1)
    ws.write_crl("A.crl", make_crl(auth_ca, [], partition="A", number=1, this_update=soon, next_update=soon + dt.timedelta(hours=2)))
    ws.write_crl("B.crl", make_crl(auth_ca, [], partition="B", number=1))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    store = open_store(ws.store)
    later = NOW + dt.timedelta(hours=3)
    from jpki_fast.serials import normalize
    from conftest import partition_text

    issuer = store.issuer_index("auth_ca_2023")
    parts = store.partition_ids(issuer, [partition_text("A"), partition_text("B"), None, partition_text("Z")])
    out = store.check_normalized(normalize([7, 7, 7, 7]), issuer, int(later.timestamp()), partitions=parts)
    assert out.column("status").to_pylist() == ["stale", "good", "stale", "stale"]


def test_expired_crl_for_one_partition_does_not_block_the_others(day1, auth_ca):
    day1.write_crl("A.crl", make_crl(auth_ca, [], partition="A", number=11, this_update=NOW - 3 * DAY, next_update=NOW - DAY))
    day1.write_crl("B.crl", make_crl(auth_ca, [(2, days_ago(3), None, None), (6, days_ago(1), None, None)], partition="B", number=21))
    summary = ingest(day1.trust, day1.crls, day1.store, now=NOW)
    assert [f.error_kind for f in summary.refused] == ["expired"]
    assert status(day1.store, [1, 6]) == ["revoked", "revoked"]


def test_cli_exit_code_says_whether_anything_was_refused(day1, auth_ca):
    args = ["ingest", "--trust", str(day1.trust), "--crls", str(day1.crls), "--store", str(day1.store), "--now", "2026-11-26T00:00:00Z"]
    assert main(args) == 0  # all unchanged
    day1.write_crl("A.crl", make_crl(auth_ca, [], partition="A", number=3))
    assert main(args) == 1


# ---- integrity and rollback -----------------------------------------------------------


def test_verify_store_finds_a_flipped_byte_and_rollback_restores_service(day1, auth_ca, capsys):
    day1_entries = [(1, days_ago(3), R.superseded, None), (9, days_ago(1), None, None)]
    day1.write_crl("A.crl", make_crl(auth_ca, day1_entries, partition="A", number=11))
    ingest(day1.trust, day1.crls, day1.store, now=NOW)
    store = open_store(day1.store)
    assert store.generation == 2 and verify_generation(day1.store, 2) == []
    entries = store.path / "entries.arrow"
    data = bytearray(entries.read_bytes())
    data[len(data) // 2] ^= 0x01
    entries.write_bytes(bytes(data))
    problems = verify_generation(day1.store, 2)
    assert problems and "entries.arrow" in problems[0] and "digest differs" in problems[0]
    with pytest.raises(StoreCorruptedError, match="entries.arrow"):
        open_store(day1.store, verify=True)
    assert main(["verify-store", str(day1.store)]) == 1
    assert "rollback" in capsys.readouterr().err
    assert main(["rollback", "--store", str(day1.store), "--to", "1"]) == 0
    assert open_store(day1.store).generation == 1
    assert status(day1.store, [1, 9]) == ["revoked", "good"]
    # Rolling back onto a damaged generation is refused.
    with pytest.raises(StoreCorruptedError, match="cannot roll back to generation 2"):
        rollback(day1.store, 2)
    # The next ingest builds on generation 1 and numbers itself after the newest present.
    summary = ingest(day1.trust, day1.crls, day1.store, now=NOW)
    assert summary.generation == 3
    assert status(day1.store, [1, 9]) == ["revoked", "revoked"]


def test_opening_a_truncated_generation_fails_clearly(day1):
    store = open_store(day1.store)
    part = store.path / "partitions.arrow"
    part.write_bytes(part.read_bytes()[:50])
    with pytest.raises(StoreCorruptedError, match="partitions.arrow"):
        open_store(day1.store)


def test_missing_generation_directory(day1):
    shutil.rmtree(day1.store / "generations" / "00000001")
    with pytest.raises(StoreCorruptedError, match="no manifest"):
        open_store(day1.store)


# ---- authority revocation lists -------------------------------------------------------


def test_revoked_ca_key_makes_everything_it_issued_revoked(ws, auth_ca, auth_ca_old):
    ws.add_ca(auth_ca)
    ws.add_ca(auth_ca_old)
    ws.write_crl("new/A.crl", make_crl(auth_ca, [], partition="A", number=1))
    ws.write_crl("old/A.crl", make_crl(auth_ca_old, [(1234, days_ago(9), None, None)], partition="A", number=1))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert status(ws.store, [1234, 5], issuer="auth_ca_2019") == ["revoked", "good"]
    # The old generation's root (serial 2, self-signed) lands on its own ARL.
    ws.write_crl("old/arl.crl", make_crl(auth_ca_old, [(auth_ca_old.cert.serial_number, days_ago(2), R.ca_compromise, None)],
                                         partition=None, number=1, only_ca_certs=True))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    store = open_store(ws.store)
    revoked_at = days_ago(2).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert store.revoked_issuers() == {"auth_ca_2019": {"revocation_date": revoked_at, "reason": "cACompromise"}}
    out = store.check([1234, 5, 99999], "auth_ca_2019", now=NOW).to_pylist()
    assert [r["status"] for r in out] == ["revoked"] * 3
    assert out[1]["reason"] == "cACompromise" and out[1]["revocation_date"] == days_ago(2)
    # The other generation's key is unaffected; the ARL does not count for end-entity freshness.
    assert status(ws.store, [5], issuer="auth_ca_2023") == ["good"]
    assert store.partitions().column("kind").to_pylist().count("arl") == 1


def test_a_user_certificate_crl_cannot_revoke_a_ca(ws, auth_ca):
    ws.add_ca(auth_ca)
    # Serial 1 is the root's own serial, listed on a CRL restricted to end-entity certificates.
    ws.write_crl("A.crl", make_crl(auth_ca, [(auth_ca.cert.serial_number, days_ago(1), None, None)], partition="A"))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    store = open_store(ws.store)
    assert store.revoked_issuers() == {}
    assert status(ws.store, [2]) == ["good"]
