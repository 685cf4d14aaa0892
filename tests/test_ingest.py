"""Ingest: verified CRLs in, an exact index out; bad input refused without harm."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pyarrow as pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import jpki_fast
from jpki_fast import IngestRefused, ingest, open_store
from conftest import NOW, NOW_ISO, days_ago, make_crl, partition_text

R = x509.ReasonFlags
REASON_NAME = {
    R.unspecified: "unspecified",
    R.key_compromise: "keyCompromise",
    R.ca_compromise: "cACompromise",
    R.affiliation_changed: "affiliationChanged",
    R.superseded: "superseded",
    R.cessation_of_operation: "cessationOfOperation",
    R.certificate_hold: "certificateHold",
    R.privilege_withdrawn: "privilegeWithdrawn",
    R.aa_compromise: "aACompromise",
}


def random_entries(n, seed, base=0x05000000, long_share=0.0):
    rng = random.Random(seed)
    reasons = list(REASON_NAME) + [None]
    serials = rng.sample(range(base, base + 4 * n), n)
    out = []
    for s in serials:
        if rng.random() < long_share:
            s = rng.getrandbits(150) | (1 << 149)
        when = NOW - dt.timedelta(seconds=rng.randrange(5 * 365 * 86400))
        reason = rng.choice(reasons)
        inv = when - dt.timedelta(days=rng.randrange(1, 30)) if rng.random() < 0.05 else None
        out.append((s, when, reason, inv))
    return out


def table_of(store, issuer):
    t = store.entries(issuer).to_pylist()
    return {r["serial"]: r for r in t}


def test_golden_every_entry_equals_pyca(ws, auth_ca, auth_ca_old, sign_ca):
    """Every serial, date, reason and invalidity date the engine holds equals what pyca reads."""
    for ca in (auth_ca, auth_ca_old, sign_ca):
        ws.add_ca(ca)
    ders = {
        "auth/a.crl": make_crl(auth_ca, random_entries(3000, 1, long_share=0.02), partition="Sapporo-shi-Minami-ku"),
        "auth/b.crl": make_crl(auth_ca, random_entries(2000, 2, base=0x06000000), partition="Hakodate-shi"),
        "old/c.crl": make_crl(auth_ca_old, random_entries(500, 3), partition="Sapporo-shi-Minami-ku"),
        "sign/d.pem": None,
    }
    sign_der = make_crl(sign_ca, random_entries(1500, 4), partition="Aomori-shi")
    ders["sign/d.pem"] = x509.load_der_x509_crl(sign_der).public_bytes(serialization.Encoding.PEM)
    for path, der in ders.items():
        ws.write_crl(path, der)
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert summary.published and not summary.refused
    store = open_store(ws.store)

    expected: dict[str, dict] = {"auth_ca_2023": {}, "auth_ca_2019": {}, "sign_ca_2023": {}}
    issuer_of = {"auth": "auth_ca_2023", "old": "auth_ca_2019", "sign": "sign_ca_2023"}
    for path, der in ders.items():
        crl = x509.load_pem_x509_crl(der) if path.endswith(".pem") else x509.load_der_x509_crl(der)
        for rc in crl:
            try:
                reason = REASON_NAME[rc.extensions.get_extension_for_class(x509.CRLReason).value.reason]
            except x509.ExtensionNotFound:
                reason = None
            try:
                inv = rc.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc
            except x509.ExtensionNotFound:
                inv = None
            expected[issuer_of[path.split("/")[0]]][rc.serial_number] = (rc.revocation_date_utc, reason, inv)

    for alias, want in expected.items():
        short = {s: v for s, v in want.items() if s < 2**64}
        got = table_of(store, alias)
        assert set(got) == set(short)
        for s, (when, reason, _inv) in short.items():
            assert got[s]["revocation_date"] == when
            assert got[s]["reason"] == reason
        longs = {int(r["serial"], 16): r for r in store.long_entries(alias).to_pylist()}
        assert set(longs) == {s for s in want if s >= 2**64}
        # Checks return the same facts, including invalidity dates.
        serials = list(want)
        result = store.check(serials, alias, now=NOW).to_pylist()
        for s, row in zip(serials, result):
            when, reason, inv = want[s]
            assert row == {"status": "revoked", "reason": reason, "revocation_date": when, "invalidity_date": inv}
    # The summary counts the snapshot's entries by reason (short and long serials alike).
    by_reason: dict[str, int] = {}
    for want in expected.values():
        for _when, reason, _inv in want.values():
            by_reason[reason or "none"] = by_reason.get(reason or "none", 0) + 1
    assert summary.reasons == by_reason
    assert summary.entries == sum(by_reason.values())


def test_serials_not_listed_are_good_when_fresh(ws, auth_ca):
    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [(0x054CFCD8, days_ago(3), R.superseded, None)]))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    store = open_store(ws.store)
    out = store.check(np.array([0x054CFCD8, 0x054CFCD9, 0, 2**64 - 1], dtype=np.uint64), "auth_ca_2023", now=NOW)
    assert out.column("status").to_pylist() == ["revoked", "good", "good", "good"]
    assert out.column("reason").to_pylist() == ["superseded", None, None, None]


def test_same_serial_is_good_before_next_update_and_stale_after(ws, auth_ca):
    ws.add_ca(auth_ca)
    this_update = NOW - dt.timedelta(hours=1)
    ws.write_crl("a.crl", make_crl(auth_ca, [(7, days_ago(3), R.superseded, None)], this_update=this_update,
                                   next_update=this_update + dt.timedelta(days=1)))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    store = open_store(ws.store)
    before = this_update + dt.timedelta(hours=23, minutes=59, seconds=59)
    at = this_update + dt.timedelta(days=1)
    assert store.check([8, 7], "auth_ca_2023", now=before).column("status").to_pylist() == ["good", "revoked"]
    assert store.check([8, 7], "auth_ca_2023", now=at).column("status").to_pylist() == ["stale", "revoked"]
    # Before thisUpdate the data does not cover `now` either.
    early = this_update - dt.timedelta(seconds=1)
    assert store.check([8], "auth_ca_2023", now=early).column("status").to_pylist() == ["stale"]


def test_one_stale_partition_makes_unpartitioned_checks_stale(ws, auth_ca):
    ws.add_ca(auth_ca)
    short = NOW - dt.timedelta(hours=1)
    ws.write_crl("a.crl", make_crl(auth_ca, [], partition="A", this_update=short, next_update=short + dt.timedelta(hours=2)))
    ws.write_crl("b.crl", make_crl(auth_ca, [], partition="B"))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    store = open_store(ws.store)
    assert store.check([1], "auth_ca_2023", now=NOW).column("status").to_pylist() == ["good"]
    later = NOW + dt.timedelta(hours=1, minutes=30)
    assert store.check([1], "auth_ca_2023", now=later).column("status").to_pylist() == ["stale"]


def test_unknown_issuer_and_issuer_without_crls(ws, auth_ca, sign_ca):
    ws.add_ca(auth_ca)
    ws.add_ca(sign_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [(5, days_ago(1), None, None)]))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    store = open_store(ws.store)
    assert store.check([5], "not-a-ca", now=NOW).column("status").to_pylist() == ["unknown"]
    # In the trust store but no CRL ingested: no covering data, so stale (fail closed).
    assert store.check([5], "sign_ca_2023", now=NOW).column("status").to_pylist() == ["stale"]
    # The issuer may be named by key identifier too.
    key_id = auth_ca.ski.digest.hex()
    assert store.check([5], key_id, now=NOW).column("status").to_pylist() == ["revoked"]


def test_crl_generation_is_matched_by_key_identifier_not_name(ws, auth_ca, auth_ca_old):
    """Two generations share one name: each CRL must land on the key that signed it."""
    ws.add_ca(auth_ca)
    ws.add_ca(auth_ca_old)
    ws.write_crl("new.crl", make_crl(auth_ca, [(1, days_ago(1), None, None)]))
    ws.write_crl("old.crl", make_crl(auth_ca_old, [(2, days_ago(1), None, None)]))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    store = open_store(ws.store)
    assert store.check([1, 2], "auth_ca_2023", now=NOW).column("status").to_pylist() == ["revoked", "good"]
    assert store.check([1, 2], "auth_ca_2019", now=NOW).column("status").to_pylist() == ["good", "revoked"]


def test_crl_without_aki_is_verified_against_each_same_named_key(ws, auth_ca, auth_ca_old):
    ws.add_ca(auth_ca)
    ws.add_ca(auth_ca_old)
    ws.write_crl("old.crl", make_crl(auth_ca_old, [(2, days_ago(1), None, None)], aki=False))
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert summary.accepted[0].issuer == "auth_ca_2019"


def test_duplicate_serials_keep_earliest_date_and_are_counted(ws, auth_ca):
    ws.add_ca(auth_ca)
    ws.write_crl(
        "a.crl",
        make_crl(
            auth_ca,
            [(9, days_ago(2), R.superseded, None), (9, days_ago(5), R.certificate_hold, None), (10, days_ago(1), None, None)],
        ),
    )
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert summary.duplicates == 1
    store = open_store(ws.store)
    row = store.check([9], "auth_ca_2023", now=NOW).to_pylist()[0]
    assert row["revocation_date"] == days_ago(5) and row["reason"] == "certificateHold"
    assert store.partitions().column("duplicates").to_pylist() == [1]


def test_pem_and_v1_crls(ws, auth_ca):
    ws.add_ca(auth_ca)
    der = make_crl(auth_ca, [(3, days_ago(1), None, None)], partition=None, number=4)
    ws.write_crl("x.pem", x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM))
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert summary.accepted[0].partition == ""  # a full CRL covers the whole issuer
    assert open_store(ws.store).check([3], "auth_ca_2023", now=NOW).column("status").to_pylist() == ["revoked"]


def test_sha384_and_sha512_signatures(ws, auth_ca):
    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [(3, days_ago(1), None, None)], partition="A", algorithm=hashes.SHA384()))
    ws.write_crl("b.crl", make_crl(auth_ca, [(4, days_ago(1), None, None)], partition="B", algorithm=hashes.SHA512()))
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert len(summary.accepted) == 2


# ---- bad input ----------------------------------------------------------------------------


def _published_answers(store_dir):
    store = open_store(store_dir)
    return store.generation, store.check(list(range(1, 40)), "auth_ca_2023", now=NOW).to_pylist()


BAD_CASES = {
    "wrong_signature": ("bad_signature", "signature does not verify"),
    "unknown_ca": ("unknown_issuer", "CRL from an unknown CA"),
    "truncated": ("malformed", "truncated"),
    "garbage": ("malformed", "malformed CRL"),
    "empty": ("not_a_crl", "empty"),
    "delta": ("delta_crl", "delta CRL"),
    "unknown_critical": ("unknown_critical_extension", "unknown critical CRL extension 1.2.3.4.5"),
    "expired": ("expired", "expired"),
    "pem_truncated": ("malformed", "no matching END line"),
    "pem_certificate": ("not_a_crl", "without a '-----BEGIN X509 CRL-----' block"),
}


def _bad_crl(case, auth_ca, stranger_ca):
    good = make_crl(auth_ca, [(20, days_ago(1), None, None)], number=5)
    if case == "wrong_signature":
        der = bytearray(good)
        der[-10] ^= 0xFF
        return bytes(der)
    if case == "unknown_ca":
        return make_crl(stranger_ca, [(20, days_ago(1), None, None)], number=5)
    if case == "truncated":
        return good[: len(good) // 2]
    if case == "garbage":
        return bytes(random.Random(1).randbytes(3000))
    if case == "empty":
        return b""
    if case == "delta":
        return make_crl(auth_ca, [], number=5, extra_extensions=[(x509.DeltaCRLIndicator(4), True)])
    if case == "unknown_critical":
        ext = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00")
        return make_crl(auth_ca, [], number=5, extra_extensions=[(ext, True)])
    if case == "pem_truncated":
        pem = x509.load_der_x509_crl(good).public_bytes(serialization.Encoding.PEM)
        return pem[: len(pem) // 2]
    if case == "pem_certificate":
        return auth_ca.pem()
    if case == "expired":
        return make_crl(auth_ca, [], number=5, this_update=NOW - dt.timedelta(days=3), next_update=NOW - dt.timedelta(days=1))
    raise AssertionError(case)


@pytest.mark.parametrize("case", sorted(BAD_CASES))
@pytest.mark.parametrize("policy", ["partition", "all-or-nothing"])
def test_bad_crl_is_refused_by_name_and_published_answers_do_not_change(ws, auth_ca, stranger_ca, case, policy):
    ws.add_ca(auth_ca)
    ws.write_crl("good.crl", make_crl(auth_ca, [(1, days_ago(1), R.superseded, None)], number=4))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    before = _published_answers(ws.store)

    ws.write_crl("good.crl", make_crl(auth_ca, [(1, days_ago(1), R.superseded, None), (2, days_ago(1), None, None)], number=5))
    ws.write_crl(f"sub/{case}.crl", _bad_crl(case, auth_ca, stranger_ca))
    kind, fragment = BAD_CASES[case]
    if policy == "all-or-nothing":
        with pytest.raises(IngestRefused) as exc:
            ingest(ws.trust, ws.crls, ws.store, now=NOW, policy=policy)
        summary = exc.value.summary
        assert _published_answers(ws.store) == before
    else:
        summary = ingest(ws.trust, ws.crls, ws.store, now=NOW, policy=policy)
        # Only the good partition moved on; serial 2 is now revoked there.
        gen, answers = _published_answers(ws.store)
        assert gen == before[0] + 1 and answers[1]["status"] == "revoked"
        assert answers[0] == before[1][0]
    refused = summary.refused
    assert len(refused) == 1
    assert refused[0].path == f"sub/{case}.crl"
    assert refused[0].error_kind == kind
    assert fragment in refused[0].message


def test_first_ingest_with_only_bad_files_publishes_nothing(ws, auth_ca):
    ws.add_ca(auth_ca)
    ws.write_crl("x.crl", b"\x30\x03\x02\x01")
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert not summary.published and summary.generation is None and len(summary.refused) == 1
    assert "nothing published" in str(summary)
    with pytest.raises(jpki_fast.StoreError, match="nothing published yet"):
        open_store(ws.store)


def test_crl_signed_by_a_ca_without_crl_sign_is_refused(ws):
    from conftest import make_ca

    ca = ws.add_ca(make_ca("no_crl_sign", 4, crl_sign=False))
    ws.write_crl("a.crl", make_crl(ca, []))
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert "cRLSign" in summary.refused[0].message


def test_crash_during_publish_leaves_previous_snapshot(ws, auth_ca, monkeypatch):
    """A generation is visible completely or not at all."""
    import jpki_fast.publish as publish_mod

    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [(1, days_ago(1), None, None)], number=1))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    before = _published_answers(ws.store)

    ws.write_crl("a.crl", make_crl(auth_ca, [(1, days_ago(1), None, None), (2, days_ago(1), None, None)], number=2))
    real = publish_mod._write_ipc
    calls = {"n": 0}

    def failing(path, schema, batches):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(28, "No space left on device")
        return real(path, schema, batches)

    monkeypatch.setattr(publish_mod, "_write_ipc", failing)
    with pytest.raises(OSError, match="No space"):
        ingest(ws.trust, ws.crls, ws.store, now=NOW)
    monkeypatch.setattr(publish_mod, "_write_ipc", real)
    assert _published_answers(ws.store) == before
    assert not any((ws.store / "staging").iterdir())
    # The next run succeeds and publishes the new data.
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert _published_answers(ws.store)[1][1]["status"] == "revoked"


def test_store_is_locked_against_concurrent_writers(ws, auth_ca):
    from jpki_fast.store import store_lock

    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, []))
    with store_lock(ws.store), pytest.raises(jpki_fast.StoreError, match="lock"):
        ingest(ws.trust, ws.crls, ws.store, now=NOW)


def test_summary_text_and_json(ws, auth_ca):
    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [(1, days_ago(1), R.superseded, None), (2, days_ago(1), None, None)]))
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW_ISO)
    text = str(summary)
    assert "published generation 1" in text and "superseded 1" in text
    d = summary.to_dict()
    assert d["counts"] == {"accepted": 1, "unchanged": 0, "refused": 0, "missing": 0}
    assert d["reasons"] == {"superseded": 1, "none": 1}
    assert d["files"][0]["partition"] == partition_text("Sapporo-shi-Minami-ku")
    assert pa.types.is_timestamp(open_store(ws.store).partitions().schema.field("this_update").type)


@pytest.mark.parametrize("width", [1, 8, 9, 20])
def test_serial_widths_from_one_to_twenty_octets_round_trip(tmp_path, width):
    """Every serial of a generated dataset comes back revoked, with its date, whatever its
    width: 1 octet, exactly 8 (the u64 boundary), 9 (the first long one) and RFC 5280's 20
    (high bit set, so DER needs a 21st, leading zero octet)."""
    from jpki_fast import synth

    data = tmp_path / "data"
    synth.generate(data, entries=200 if width == 1 else 3000, partitions=3, serial_bytes=width, now=NOW, certs=0)
    ingest(data / "trust", data / "crls", tmp_path / "store", now=NOW)
    store = open_store(tmp_path / "store")
    truth = synth.read_truth(data)
    import pyarrow.compute as pc

    for issuer in ("sign_ca_2023", "auth_ca_2023"):
        sub = truth.filter(pc.equal(truth.column("issuer"), issuer))
        assert all(len(s) == 2 * width for s in sub.column("serial").to_pylist())
        out = store.check(sub.column("serial"), issuer, now=NOW)
        assert set(out.column("status").to_pylist()) == {"revoked"}
        assert out.column("revocation_date").to_pylist() == sub.column("revocation_date").to_pylist()
    if width == 20:
        assert store.long_entries().num_rows == truth.num_rows


def test_rsa_pss_signed_crl_is_verified(ws, auth_ca):
    from cryptography.hazmat.primitives.asymmetric import padding

    ws.add_ca(auth_ca)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(auth_ca.name)
        .last_update(NOW - dt.timedelta(hours=1))
        .next_update(NOW + dt.timedelta(days=1))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(auth_ca.ski), critical=False)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(77).revocation_date(days_ago(1)).build())
    )
    der = b.sign(auth_ca.key, hashes.SHA256(), rsa_padding=pss).public_bytes(serialization.Encoding.DER)
    ws.write_crl("pss.crl", der)
    tampered = bytearray(der)
    tampered[-3] ^= 1
    ws.write_crl("sub/pss-bad.crl", bytes(tampered))
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert [f.path for f in summary.accepted] == ["pss.crl"]
    assert summary.refused[0].error_kind == "bad_signature"
    assert open_store(ws.store).partitions().column("signature_algorithm").to_pylist() == ["rsassaPss-sha256"]
    assert open_store(ws.store).check([77], "auth_ca_2023", now=NOW).column("status").to_pylist() == ["revoked"]
