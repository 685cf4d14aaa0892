"""Certificates: parsing (the real JPKI certificate and synthetic ones) and path validation with
revocation on the certificate's own partition (Store.check_certificates).

End-entity certificates are built by pyca/cryptography (``synth.issue_certificate``) and CRLs by
the conftest factory, so the engine is checked against a second implementation. The real
certificate's subject is never printed: assertions compare fields other than the subject.
"""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pyarrow as pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import jpki_fast
from jpki_fast import _core, certs, ingest, open_store, synth
from jpki_fast.trust import TrustStore
from test_ingest import REASON_NAME
from conftest import FIXTURES, NOW, NOW_ISO, SIGN_OU, days_ago, make_ca, make_crl, partition_name, partition_text

R = x509.ReasonFlags
REAL_CERT = FIXTURES / "auth_cert_sample.der"
REAL_PARTITION = (
    "C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points, OU=Hokkaido, CN=Sapporo-shi-Minami-ku CRLDP"
)
REAL_AKI = "8CD5586A891485E559379B7E29D410CFD28B3593"

#: Serials revoked on the fresh Sapporo-shi-Minami-ku CRL, one per reason (None: no reasonCode).
REASONS = {
    0x1000: R.unspecified,
    0x1001: R.key_compromise,
    0x1002: R.ca_compromise,
    0x1003: R.affiliation_changed,
    0x1004: R.superseded,
    0x1005: R.cessation_of_operation,
    0x1006: R.certificate_hold,
    0x1009: R.privilege_withdrawn,
    0x100A: R.aa_compromise,
    0x100F: None,
}
STALE_REVOKED = 0x2000  # on the stale Hakodate-shi CRL
SIGN_REVOKED = 0x3000  # on the signing CA's Aomori-shi CRL
TEST_CA_SLOT = 5


# ---------------------------------------------------------------------------------------------
# A small PKI with a store (shared by test_logins.py).


@pytest.fixture(scope="session")
def ee_keys():
    """Three end-entity key pairs (PKCS#8 DER, cryptography private key), generated in Rust."""
    pairs = _core.generate_rsa_keys(3)
    return [serialization.load_der_private_key(pkcs8, None) for pkcs8, _ in pairs]


@pytest.fixture(scope="session")
def test_ca():
    """A CA of the JPKI test hierarchy (O=JPKI-TEST)."""
    return make_ca("test_ca", TEST_CA_SLOT, org="JPKI-TEST")


def sign_partition(municipality: str = "Aomori-shi") -> x509.Name:
    return partition_name(municipality, "Aomori", ou=SIGN_OU)


def sign_partition_text(municipality: str = "Aomori-shi") -> str:
    return partition_text(municipality, "Aomori", ou=SIGN_OU)


def sign_crl(ca, entries, municipality: str = "Aomori-shi") -> bytes:
    """A signing CA's CRL for a partition named under the signing OU (the conftest factory names
    partitions under the authentication OU)."""
    idp = x509.IssuingDistributionPoint(
        full_name=[x509.DirectoryName(sign_partition(municipality))], relative_name=None,
        only_contains_user_certs=True, only_contains_ca_certs=False, only_some_reasons=None,
        indirect_crl=False, only_contains_attribute_certs=False,
    )
    return make_crl(ca, entries, partition=None, extra_extensions=[(idp, True)], **FRESH)


#: The store is published two days before NOW, when every CRL was fresh; at NOW the Hakodate-shi
#: CRL is past its nextUpdate (ingest refuses an expired CRL, so staleness comes with time).
INGESTED_AT = NOW - dt.timedelta(days=2)
FRESH = {"this_update": INGESTED_AT - dt.timedelta(hours=3), "next_update": NOW + dt.timedelta(days=5)}


@pytest.fixture
def pki(ws, auth_ca, auth_ca_old, sign_ca, test_ca):
    """Trust: the 2023 and 2019 authentication keys, the signing CA and a test-hierarchy CA.
    CRLs (all from the 2023 keys), at NOW: Sapporo-shi-Minami-ku fresh with one serial per
    reason, Hakodate-shi stale (nextUpdate passed), Aomori-shi (signing) fresh, the test CA's
    fresh."""
    for ca in (auth_ca, auth_ca_old, sign_ca, test_ca):
        ws.add_ca(ca)
    ws.write_crl("auth/sapporo.crl", make_crl(auth_ca, [(s, days_ago(10), r, None) for s, r in REASONS.items()], **FRESH))
    ws.write_crl(
        "auth/hakodate.crl",
        make_crl(auth_ca, [(STALE_REVOKED, days_ago(20), R.superseded, None)], partition="Hakodate-shi",
                 this_update=NOW - dt.timedelta(days=3), next_update=NOW - dt.timedelta(days=1)),
    )
    ws.write_crl("sign/aomori.crl", sign_crl(sign_ca, [(SIGN_REVOKED, days_ago(5), R.affiliation_changed, None)]))
    ws.write_crl("test/test.crl", make_crl(test_ca, [], partition="Test-shi", **FRESH))
    ingest(ws.trust, ws.crls, ws.store, now=INGESTED_AT)
    return open_store(ws.store)


def issue(ca, key, serial: int, *, kind: str = "auth", partition: str | None = "",
          not_before=None, not_after=None, **kw) -> bytes:
    """An end-entity certificate from `ca` for `key` (cryptography private key), by default in
    the fresh partition of its kind (Sapporo-shi-Minami-ku, or Aomori-shi for signing)."""
    if partition == "":
        partition = "Sapporo-shi-Minami-ku" if kind == "auth" else "Aomori-shi"
    if partition is not None:
        partition = partition_text(partition) if kind == "auth" else sign_partition_text(partition)
    return synth.issue_certificate(
        kind, ca.key, ca.cert, key.public_key(), serial, partition,
        not_before or days_ago(100), not_after or NOW + dt.timedelta(days=1000), **kw,
    )


def statuses(table: pa.Table) -> list[str]:
    return table.column("status").to_pylist()


# ---------------------------------------------------------------------------------------------
# The real JPKI certificates.


def test_real_roots_load(real_trust):
    trust = TrustStore.from_dir(real_trust)
    assert sorted(trust.aliases) == ["auth_ca_2015", "auth_ca_2023", "sign_ca_2015", "sign_ca_2023"]
    anchors = _core.TrustAnchors([(k.key_id, k.certificate_der, k.kind, k.test_hierarchy) for k in trust])
    assert len(anchors) == 4
    parsed = jpki_fast.parse_certificates([k.certificate_der for k in trust])
    assert parsed.column("error").to_pylist() == [None] * 4
    assert parsed.column("is_ca").to_pylist() == [True] * 4
    assert parsed.column("subject_key_id").to_pylist() == [k.key_id_hex for k in trust]


def test_real_authentication_certificate_parses():
    t = jpki_fast.parse_certificates([REAL_CERT.read_bytes()])
    row = t.to_pylist()[0]
    assert row["error"] is None
    assert row["serial"] == "054CFCD8"
    assert row["partition"] == REAL_PARTITION
    assert row["crl_distribution_points"] == [REAL_PARTITION]
    assert row["authority_key_id"] == REAL_AKI
    assert row["ocsp_urls"] == ["http://ocspauthnorm.jpki.go.jp"]
    assert row["key_usage"] == ["digitalSignature"]
    assert row["extended_key_usage"] == ["clientAuth"]
    assert row["policies"] == ["1.2.392.200149.8.5.1.3.30"]
    assert row["key_bits"] == 2048 and row["rsa_exponent"] == b"\x01\x00\x01"
    assert row["not_after"] == dt.datetime(2027, 9, 23, 14, 59, 59, tzinfo=dt.timezone.utc)
    assert row["signature_algorithm"] == "sha256WithRSAEncryption"
    assert row["has_basic_four_facts"] is False
    assert "basic_four_facts" not in t.column_names


def test_real_certificate_agrees_with_pyca():
    der = REAL_CERT.read_bytes()
    ref = x509.load_der_x509_certificate(der)
    row = jpki_fast.parse_certificates(der).to_pylist()[0]
    assert int(row["serial"], 16) == ref.serial_number
    assert row["issuer_der"] == ref.issuer.public_bytes()
    assert row["subject_der"] == ref.subject.public_bytes()
    assert row["not_before"] == ref.not_valid_before_utc
    assert row["subject_public_key_info"] == ref.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert int.from_bytes(row["rsa_modulus"], "big") == ref.public_key().public_numbers().n
    ski = ref.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert row["subject_key_id"] == ski.hex().upper()


def test_real_partition_name_equals_the_crl_partition_the_store_holds(ws, auth_ca):
    """The certificate's distribution point text is the store's partition key, byte for byte."""
    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [], partition="Sapporo-shi-Minami-ku"))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert open_store(ws.store).partitions().column("name").to_pylist() == [REAL_PARTITION]


def test_real_certificate_is_untrusted_without_its_generation(ws, real_trust):
    """Generations 1 and 3 of both CAs are trusted, plus a synthetic key with the very same
    name and a fresh CRL of the certificate's partition: the certificate's generation-2 key is
    absent, so it is untrusted, never good."""
    ws.trust.mkdir(parents=True)
    for pem in real_trust.iterdir():
        shutil.copy(pem, ws.trust / pem.name)
    synthetic = ws.add_ca(make_ca("synthetic_auth", 0))  # the real authentication CA's name
    ws.write_crl("a.crl", make_crl(synthetic, [], partition="Sapporo-shi-Minami-ku"))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    store = open_store(ws.store)
    for purpose in (None, "login", "signature"):
        row = store.check_certificates([REAL_CERT.read_bytes()], now=NOW, purpose=purpose).to_pylist()[0]
        assert row["status"] == "untrusted"
        assert REAL_AKI in row["detail"]
        assert row["issuer"] is None and row["reason"] is None


def test_real_certificate_is_untrusted_by_the_anchors_alone(real_trust):
    trust = TrustStore.from_dir(real_trust)
    anchors = _core.TrustAnchors([(k.key_id, k.certificate_der, k.kind, k.test_hierarchy) for k in trust])
    args, _ = certs._binary([REAL_CERT.read_bytes()], "certificate")
    out = _core.check_certificates(anchors, args, 1795651200, "login")
    assert np.frombuffer(out["outcome"], np.uint8).tolist() == [2]  # untrusted
    assert REAL_AKI in out["details"][0][1]


# ---------------------------------------------------------------------------------------------
# Synthetic chains: each status.


def test_good_authentication_certificate(pki, auth_ca, ee_keys):
    der = issue(auth_ca, ee_keys[0], 0x10)
    row = pki.check_certificates([der], now=NOW, purpose="login").to_pylist()[0]
    assert row["status"] == "good" and row["detail"] is None
    assert row["issuer"] == "auth_ca_2023" and row["kind"] == "authentication"
    assert row["serial"] == "10"
    assert row["partition"] == partition_text("Sapporo-shi-Minami-ku")
    assert row["not_after"] == NOW + dt.timedelta(days=1000)


@pytest.mark.parametrize("serial", sorted(REASONS))
def test_revoked_with_each_reason(pki, auth_ca, ee_keys, serial):
    row = pki.check_certificates([issue(auth_ca, ee_keys[0], serial)], now=NOW).to_pylist()[0]
    assert row["status"] == "revoked"
    assert row["reason"] == (REASON_NAME[REASONS[serial]] if REASONS[serial] else None)
    assert row["revocation_date"] == days_ago(10)


def test_older_generation_is_checked_on_the_newer_keys_crl(pki, auth_ca_old, ee_keys):
    """A 2019-key certificate's partition CRL is signed by the 2023 key (same CA name)."""
    good, revoked = issue(auth_ca_old, ee_keys[0], 0x11), issue(auth_ca_old, ee_keys[0], 0x1004)
    out = pki.check_certificates([good, revoked], now=NOW).to_pylist()
    assert [r["status"] for r in out] == ["good", "revoked"]
    assert [r["issuer"] for r in out] == ["auth_ca_2019", "auth_ca_2019"]
    assert out[1]["reason"] == "superseded"


def test_expired_and_not_yet_valid(pki, auth_ca, ee_keys):
    expired = issue(auth_ca, ee_keys[0], 0x12, not_before=days_ago(2000), not_after=days_ago(1))
    future = issue(auth_ca, ee_keys[0], 0x13, not_before=NOW + dt.timedelta(days=1))
    edge = issue(auth_ca, ee_keys[0], 0x14, not_before=NOW, not_after=NOW)  # both ends inclusive
    out = pki.check_certificates([expired, future, edge], now=NOW)
    assert statuses(out) == ["expired", "not_yet_valid", "good"]
    assert out.column("detail")[0].as_py().startswith("expired at ")


def test_wrong_usage(pki, auth_ca, sign_ca, ee_keys):
    k = ee_keys[0]
    cases = {
        "no digitalSignature": issue(auth_ca, k, 0x20, key_usage=("keyEncipherment",)),
        "no keyUsage": issue(auth_ca, k, 0x21, key_usage=None),
        "serverAuth only": issue(auth_ca, k, 0x22, extended_key_usage=("serverAuth",)),
        "a CA certificate": issue(auth_ca, k, 0x23, is_ca=True),
        "signing certificate at login": issue(sign_ca, k, 0x24, kind="sign"),
    }
    out = pki.check_certificates(list(cases.values()), now=NOW, purpose="login")
    assert statuses(out) == ["wrong_usage"] * len(cases)
    assert "digitalSignature" in out.column("detail")[0].as_py()
    assert "signing certificate cannot be used to log in" in out.column("detail")[4].as_py()
    # The authentication certificate may not sign; the signing one may.
    auth, sign = issue(auth_ca, k, 0x25), issue(sign_ca, k, 0x26, kind="sign")
    assert statuses(pki.check_certificates([auth, sign], now=NOW, purpose="signature")) == ["wrong_usage", "good"]
    # Without a purpose each is judged by its CA's kind.
    assert statuses(pki.check_certificates([auth, sign], now=NOW)) == ["good", "good"]


def test_tampered_certificate_has_a_bad_signature(pki, auth_ca, stranger_ca, ee_keys):
    der = bytearray(issue(auth_ca, ee_keys[0], 0x30, subject_id="SYNTHETIC-SUBJECT-0001"))
    at = der.find(b"SYNTHETIC-SUBJECT-0001")
    der[at] ^= 0x01  # one bit of the subject
    forged = issue(auth_ca, ee_keys[0], 0x31, signing_key=stranger_ca.key)  # AKI of auth_ca, wrong key
    out = pki.check_certificates([bytes(der), forged], now=NOW)
    assert statuses(out) == ["bad_signature", "bad_signature"]
    assert "does not verify" in out.column("detail")[0].as_py()
    assert out.column("reason").to_pylist() == [None, None]


def test_sha1_signed_certificates_are_refused(pki, auth_ca, ee_keys):
    """A valid SHA-1 signature by the right CA key is still refused (collisions)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    der = issue(auth_ca, ee_keys[0], 0x32)
    sha256_oid, sha1_oid = bytes.fromhex("2a864886f70d01010b"), bytes.fromhex("2a864886f70d010105")
    assert der.count(sha256_oid) == 2
    patched = der.replace(sha256_oid, sha1_oid)
    tbs = x509.load_der_x509_certificate(patched).tbs_certificate_bytes
    signature = auth_ca.key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    sha1_cert = patched[: -len(signature)] + signature
    assert jpki_fast.parse_certificates(sha1_cert).column("signature_algorithm").to_pylist() == ["sha1WithRSAEncryption"]
    out = pki.check_certificates([sha1_cert], now=NOW).to_pylist()[0]
    assert out["status"] == "bad_signature" and "SHA-1" in out["detail"]


def test_tampered_revoked_certificate_is_not_reported_revoked(pki, auth_ca, stranger_ca, ee_keys):
    """A forged certificate carrying a revoked serial says bad_signature: nothing it says counts."""
    forged = issue(auth_ca, ee_keys[0], 0x1004, signing_key=stranger_ca.key)
    assert statuses(pki.check_certificates([forged], now=NOW)) == ["bad_signature"]


def test_untrusted_issuer(pki, stranger_ca, ee_keys):
    """The stranger CA has the trusted authentication CA's name but another key: with an AKI it
    is not found; without one no trusted key of that name verifies it."""
    der = issue(stranger_ca, ee_keys[0], 0x40)
    no_aki = issue(stranger_ca, ee_keys[0], 0x41, authority_key_id=None)
    out = pki.check_certificates([der, no_aki], now=NOW)
    assert statuses(out) == ["untrusted", "untrusted"]
    assert "not in the trust store" in out.column("detail")[0].as_py()
    assert "no authorityKeyIdentifier" in out.column("detail")[1].as_py()


def test_certificate_without_aki_is_found_by_name_and_signature(pki, auth_ca, ee_keys):
    der = issue(auth_ca, ee_keys[0], 0x42, authority_key_id=None)
    out = pki.check_certificates([der], now=NOW).to_pylist()[0]
    assert (out["status"], out["issuer"]) == ("good", "auth_ca_2023")


def test_test_hierarchy_is_refused_unless_allowed(pki, test_ca, ee_keys):
    der = issue(test_ca, ee_keys[0], 0x50, partition="Test-shi")
    refused = pki.check_certificates([der], now=NOW).to_pylist()[0]
    assert refused["status"] == "untrusted" and "JPKI-TEST" in refused["detail"]
    allowed = pki.check_certificates([der], now=NOW, allow_test_hierarchy=True).to_pylist()[0]
    assert (allowed["status"], allowed["issuer"]) == ("good", "test_ca")


def test_stale_partition_while_others_are_fresh(pki, auth_ca, ee_keys):
    """Freshness is judged on the certificate's own partition only, both ways."""
    in_stale = issue(auth_ca, ee_keys[0], 0x60, partition="Hakodate-shi")
    in_fresh = issue(auth_ca, ee_keys[0], 0x61, partition="Sapporo-shi-Minami-ku")
    revoked_in_stale = issue(auth_ca, ee_keys[0], STALE_REVOKED, partition="Hakodate-shi")
    no_crl = issue(auth_ca, ee_keys[0], 0x62, partition="Otaru-shi")
    no_dp = issue(auth_ca, ee_keys[0], 0x63, partition=None)
    out = pki.check_certificates([in_stale, in_fresh, revoked_in_stale, no_crl, no_dp], now=NOW, provenance=True)
    # A revocation is never undone by staleness; without a distribution point every partition
    # of the CA counts, and Hakodate-shi is stale.
    assert statuses(out) == ["stale", "good", "revoked", "stale", "stale"]
    details = out.column("detail").to_pylist()
    assert "not fresh" in details[0] and "holds no CRL" in details[3]
    assert out.column("next_update")[0].as_py() == NOW - dt.timedelta(days=1)
    assert out.column("crl_number").to_pylist()[:3] == ["1", "1", "1"]


def test_fresh_partitions_with_a_distribution_point_less_certificate(ws, auth_ca, ee_keys):
    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [], partition="Sapporo-shi-Minami-ku"))
    ws.write_crl("b.crl", make_crl(auth_ca, [], partition="Hakodate-shi"))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    store = open_store(ws.store)
    out = store.check_certificates([issue(auth_ca, ee_keys[0], 0x64, partition=None)], now=NOW)
    assert statuses(out) == ["good"]
    # After the CRLs' nextUpdate the same certificate is stale, never good.
    later = NOW + dt.timedelta(days=3)
    assert statuses(store.check_certificates([issue(auth_ca, ee_keys[0], 0x65)], now=later)) == ["stale"]


def test_signing_certificates(pki, sign_ca, ee_keys):
    good = issue(sign_ca, ee_keys[1], 0x70, kind="sign")
    revoked = issue(sign_ca, ee_keys[1], SIGN_REVOKED, kind="sign")
    out = pki.check_certificates([good, revoked], now=NOW, purpose="signature").to_pylist()
    assert [r["status"] for r in out] == ["good", "revoked"]
    assert out[1]["reason"] == "affiliationChanged"
    assert [r["kind"] for r in out] == ["signing", "signing"]


# ---------------------------------------------------------------------------------------------
# Precedence.


def test_revoked_outranks_expired_and_wrong_usage(pki, auth_ca, ee_keys):
    revoked_expired = issue(auth_ca, ee_keys[0], 0x1003, not_before=days_ago(2000), not_after=days_ago(1))
    revoked_wrong = issue(auth_ca, ee_keys[0], 0x1005, key_usage=("keyEncipherment",))
    out = pki.check_certificates([revoked_expired, revoked_wrong], now=NOW, purpose="login")
    assert statuses(out) == ["revoked", "revoked"]
    assert out.column("detail").to_pylist()[0].startswith("also: expired at ")
    assert out.column("detail").to_pylist()[1].startswith("also: keyUsage")


def test_expired_outranks_wrong_usage_and_stale(pki, auth_ca, ee_keys):
    expired_wrong = issue(auth_ca, ee_keys[0], 0x80, key_usage=None, not_before=days_ago(2000), not_after=days_ago(1))
    expired_stale = issue(auth_ca, ee_keys[0], 0x81, partition="Hakodate-shi", not_before=days_ago(2000), not_after=days_ago(1))
    wrong_stale = issue(auth_ca, ee_keys[0], 0x82, partition="Hakodate-shi", key_usage=None)
    assert statuses(pki.check_certificates([expired_wrong, expired_stale, wrong_stale], now=NOW)) == [
        "expired", "expired", "wrong_usage",
    ]


def test_chain_failures_outrank_everything(pki, auth_ca, stranger_ca, test_ca, ee_keys):
    expired_forged = issue(auth_ca, ee_keys[0], 0x1003, signing_key=stranger_ca.key, not_after=days_ago(1))
    test_revoked_expired = issue(test_ca, ee_keys[0], 0x90, not_after=days_ago(1))
    assert statuses(pki.check_certificates([expired_forged, test_revoked_expired], now=NOW)) == [
        "bad_signature", "untrusted",
    ]


# ---------------------------------------------------------------------------------------------
# Bad input, forms, batches.


def test_bad_certificates_are_malformed_rows_never_crashes(pki, auth_ca, ee_keys):
    good = issue(auth_ca, ee_keys[0], 0x10)
    unknown_critical = issue(
        auth_ca, ee_keys[0], 0x15,
        extra_extensions=[(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00"), True)],
    )
    items = [good, b"", b"garbage", good[: len(good) // 2], good + b"\x00", None, b"-----BEGIN CERTIFICATE-----\nAAA", unknown_critical]
    out = pki.check_certificates(items, now=NOW)
    assert statuses(out) == ["good"] + ["malformed"] * 7
    details = out.column("detail").to_pylist()
    assert "empty" in details[1]
    assert "truncated" in details[3]
    assert "trailing" in details[4]
    assert "null" in details[5]
    assert "PEM" in details[6]
    assert "1.2.3.4.5" in details[7]
    assert out.column("serial").to_pylist()[1:7] == [None] * 6


def test_every_prefix_of_a_certificate_is_malformed(pki, auth_ca, ee_keys):
    der = issue(auth_ca, ee_keys[0], 0x10)
    out = pki.check_certificates([der[:n] for n in range(0, len(der), 7)], now=NOW)
    assert set(statuses(out)) == {"malformed"}
    parsed = jpki_fast.parse_certificates([der[:n] for n in range(0, len(der), 7)])
    assert parsed.column("error").null_count == 0


def test_wrong_types_are_clear_errors(pki):
    with pytest.raises(TypeError, match="certificate #1: expected bytes"):
        pki.check_certificates([b"x", 42], now=NOW)
    with pytest.raises(TypeError, match="unsupported Arrow type int64"):
        pki.check_certificates(pa.array([1, 2]), now=NOW)
    with pytest.raises(ValueError, match="purpose 'banking'"):
        pki.check_certificates([b"x"], now=NOW, purpose="banking")
    with pytest.raises(ValueError, match="not an ISO 8601"):
        pki.check_certificates([b"x"], now="yesterday")


def test_input_forms_agree(pki, auth_ca, ee_keys):
    ders = [issue(auth_ca, ee_keys[0], s) for s in (0x10, 0x1004, 0x12)]
    pems = [x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM) for d in ders]
    objects = [x509.load_der_x509_certificate(d) for d in ders]
    want = statuses(pki.check_certificates(ders, now=NOW))
    assert want == ["good", "revoked", "good"]
    for form in (pems, [p.decode() for p in pems], objects, pa.array(ders), pa.array(ders, pa.large_binary()),
                 pa.chunked_array([ders[:1], ders[1:]]), np.array(ders, dtype=object)):
        assert statuses(pki.check_certificates(form, now=NOW)) == want
    assert statuses(pki.check_certificates(ders[1], now=NOW)) == ["revoked"]
    assert pki.check_certificates([], now=NOW).num_rows == 0


def test_a_batch_equals_one_by_one_in_order(pki, auth_ca, auth_ca_old, sign_ca, ee_keys):
    ders = [issue(auth_ca, ee_keys[0], 0x10), issue(sign_ca, ee_keys[1], 0x70, kind="sign"), b"junk",
            issue(auth_ca_old, ee_keys[2], 0x1001), issue(auth_ca, ee_keys[0], 0x60, partition="Hakodate-shi")] * 30
    batch = pki.check_certificates(ders, now=NOW).to_pylist()
    single = [pki.check_certificates([d], now=NOW).to_pylist()[0] for d in ders[:5]]
    assert batch == single * 30


def test_table_schema_and_metadata(pki, auth_ca, ee_keys):
    t = pki.check_certificates([issue(auth_ca, ee_keys[0], 0x10)], now=NOW_ISO)
    assert t.column_names == ["status", "detail", "reason", "revocation_date", "invalidity_date", "issuer", "kind",
                              "serial", "partition", "not_before", "not_after"]
    assert t.schema.field("not_after").type == pa.timestamp("s", tz="UTC")
    assert t.schema.metadata[b"now"] == NOW_ISO.encode()
    assert tuple(t.column("status").combine_chunks().dictionary.to_pylist()) == jpki_fast.CERT_STATUSES


# ---------------------------------------------------------------------------------------------
# Personal data.


def test_basic_four_facts_only_when_asked(sign_ca, ee_keys):
    facts = {"name": "佐藤　花子", "name_substitute": "", "sex": "2", "date_of_birth": "19900101",
             "address": "Aomori Aomori-shi 1-2-3", "address_substitute": ""}
    der = issue(sign_ca, ee_keys[1], 0x71, kind="sign", facts=facts)
    plain = jpki_fast.parse_certificates([der])
    assert "basic_four_facts" not in plain.column_names
    assert plain.column("has_basic_four_facts").to_pylist() == [True]
    with_facts = jpki_fast.parse_certificates([der], personal_data=True)
    assert with_facts.column("basic_four_facts").to_pylist() == [facts]
    record = jpki_fast.basic_four_facts(der)
    assert record.name == "佐藤　花子" and record.date_of_birth == "19900101"
    assert "佐藤" not in repr(record) and "1990" not in str(record)
    assert jpki_fast.basic_four_facts(REAL_CERT.read_bytes()) is None
    with pytest.raises(ValueError, match="certificate: "):
        jpki_fast.basic_four_facts(b"junk")


def test_facts_never_appear_in_statuses(pki, sign_ca, ee_keys):
    facts = {"name": "鈴木　一郎", "sex": "1", "date_of_birth": "19800101", "address": "Secret Town 9-9-9"}
    der = issue(sign_ca, ee_keys[1], SIGN_REVOKED, kind="sign", facts=facts, not_after=days_ago(1))
    text = repr(pki.check_certificates([der, der[:-5]], now=NOW).to_pylist())
    for value in (facts["name"], facts["date_of_birth"], facts["address"]):
        assert value not in text


# ---------------------------------------------------------------------------------------------
# Synthetic dataset end to end.


def test_synth_certificates_match_their_index(tmp_path):
    out = tmp_path / "data"
    summary = synth.generate(out, entries=3000, partitions=6, now=NOW_ISO, certs=16, cert_keys=2, seed=5)
    assert summary["certs"] == {"count": 16, "revoked": 4, "keys": 2}
    index = synth.read_certs(out)
    assert index.num_rows == 16 and set(index.column("kind").to_pylist()) == {"auth", "sign"}
    ingest(out / "trust", out / "crls", tmp_path / "store", now=NOW)
    store = open_store(tmp_path / "store")
    ders = [(out / p).read_bytes() for p in index.column("path").to_pylist()]
    result = store.check_certificates(ders, now=NOW)
    want = ["revoked" if r else "good" for r in index.column("revoked").to_pylist()]
    assert statuses(result) == want
    assert result.column("serial").to_pylist() == index.column("serial").to_pylist()
    assert result.column("issuer").to_pylist() == index.column("issuer").to_pylist()
    assert result.column("partition").to_pylist() == index.column("partition").to_pylist()
    assert result.column("reason").to_pylist() == index.column("reason").to_pylist()
    parsed = jpki_fast.parse_certificates(ders)
    kinds = index.column("kind").to_pylist()
    assert parsed.column("has_basic_four_facts").to_pylist() == [k == "sign" for k in kinds]
    assert all(u == ["http://ocspauthnorm.jpki.go.jp" if k == "auth" else "http://ocspsignnorm.jpki.go.jp"]
               for u, k in zip(parsed.column("ocsp_urls").to_pylist(), kinds))
    key = serialization.load_pem_private_key((out / index.column("key_path")[0].as_py()).read_bytes(), None)
    assert key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == \
        parsed.column("subject_public_key_info")[0].as_py()
    assert "16 end-entity certificates" in (out / "README.txt").read_text()


def test_synth_refuses_bad_certificate_arguments(tmp_path):
    with pytest.raises(ValueError, match="certs must be 0 or more"):
        synth.generate(tmp_path / "x", entries=10, partitions=2, now=NOW_ISO, certs=-1)
    with pytest.raises(ValueError, match="cert_keys must be 1 or more"):
        synth.generate(tmp_path / "x", entries=10, partitions=2, now=NOW_ISO, cert_keys=0)
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------------------------------
# CLI.


def test_cert_status_prints_json_lines_without_personal_data(pki, ws, sign_ca, auth_ca, ee_keys, tmp_path, capsys):
    import json

    from jpki_fast.cli import main

    facts = {"name": "高橋　翔", "sex": "1", "date_of_birth": "20000101", "address": "Nowhere 1-1-1"}
    sign_der = issue(sign_ca, ee_keys[1], 0x72, kind="sign", facts=facts)
    auth_der = issue(auth_ca, ee_keys[0], 0x1004)
    (tmp_path / "sign.der").write_bytes(sign_der)
    bundle = b"".join(x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM) for d in (auth_der, sign_der))
    (tmp_path / "bundle.pem").write_bytes(bundle)
    (tmp_path / "junk.der").write_bytes(b"junk")
    args = ["cert-status", "--store", str(ws.store), "--now", NOW_ISO]
    files = [str(tmp_path / n) for n in ("sign.der", "bundle.pem", "junk.der")]
    assert main(args + files) == 0
    captured = capsys.readouterr().out
    lines = [json.loads(line) for line in captured.splitlines()]
    assert [(r["file"].split("/")[-1], r["index"], r["status"]) for r in lines] == [
        ("sign.der", 0, "good"), ("bundle.pem", 0, "revoked"), ("bundle.pem", 1, "good"), ("junk.der", 0, "malformed"),
    ]
    assert lines[1]["reason"] == "superseded" and lines[1]["serial"] == "1004"
    for value in (facts["name"], facts["date_of_birth"], facts["address"]):
        assert value not in captured
    assert "basic_four_facts" not in captured
    assert main(args + ["--show-personal-data", str(tmp_path / "sign.der")]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["basic_four_facts"]["name"] == facts["name"]
    assert main(args + ["--purpose", "login", str(tmp_path / "sign.der")]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "wrong_usage"


def test_cert_status_usage_errors(pki, ws, tmp_path, capsys):
    from jpki_fast.cli import main

    assert main(["cert-status", "--store", str(ws.store), str(tmp_path / "missing.der")]) == 2
    assert "missing.der: certificate file not found" in capsys.readouterr().err
    (tmp_path / "bad.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n")
    assert main(["cert-status", "--store", str(ws.store), str(tmp_path / "bad.pem")]) == 2
    assert "no matching END line" in capsys.readouterr().err
    assert main(["cert-status", "--store", str(tmp_path / "nostore"), str(tmp_path / "bad.pem")]) == 2


# ---------------------------------------------------------------------------------------------
# Several keys of one CA: the newest partition CRL decides, but never against the issuing key.


@pytest.fixture
def two_keys(ws, auth_ca, auth_ca_old):
    """Both generations publish a Sapporo-shi-Minami-ku CRL; the 2023 key's is newer."""
    ws.add_ca(auth_ca)
    ws.add_ca(auth_ca_old)
    old_update = INGESTED_AT - dt.timedelta(hours=6)
    ws.write_crl("new/sapporo.crl", make_crl(auth_ca, [], **FRESH))
    ws.write_crl("old/sapporo.crl", make_crl(auth_ca_old, [(0x31, days_ago(30), R.key_compromise, None)],
                                             this_update=old_update, next_update=NOW - dt.timedelta(hours=1)))
    ingest(ws.trust, ws.crls, ws.store, now=INGESTED_AT)
    return ws


def test_revocation_by_the_issuing_key_counts_even_when_another_key_holds_the_newer_crl(two_keys, auth_ca_old, ee_keys):
    store = open_store(two_keys.store)
    row = store.check_certificates([issue(auth_ca_old, ee_keys[0], 0x31)], now=INGESTED_AT).to_pylist()[0]
    assert row["status"] == "revoked" and row["reason"] == "keyCompromise"


def test_a_stale_crl_of_the_issuing_key_makes_its_certificates_stale(two_keys, auth_ca, auth_ca_old, ee_keys):
    store = open_store(two_keys.store)
    out = store.check_certificates([issue(auth_ca_old, ee_keys[0], 0x32), issue(auth_ca, ee_keys[0], 0x33)], now=NOW)
    # The 2019 key's own CRL for the partition expired an hour ago; the 2023 key's is fresh.
    assert statuses(out) == ["stale", "good"]
    assert statuses(store.check_certificates([issue(auth_ca_old, ee_keys[0], 0x32)], now=INGESTED_AT)) == ["good"]


def test_a_revoked_ca_key_revokes_its_certificates_checked_on_a_newer_keys_crl(ws, auth_ca, auth_ca_old, ee_keys):
    ws.add_ca(auth_ca)
    ws.add_ca(auth_ca_old)
    ws.write_crl("new/sapporo.crl", make_crl(auth_ca, [], **FRESH))
    ws.write_crl("old/arl.crl", make_crl(auth_ca_old, [(auth_ca_old.cert.serial_number, days_ago(3), R.ca_compromise, None)],
                                         partition=None, only_ca_certs=True, **FRESH))
    ingest(ws.trust, ws.crls, ws.store, now=INGESTED_AT)
    store = open_store(ws.store)
    out = store.check_certificates([issue(auth_ca_old, ee_keys[0], 0x40), issue(auth_ca, ee_keys[0], 0x41)], now=NOW).to_pylist()
    assert [r["status"] for r in out] == ["revoked", "good"]
    assert out[0]["reason"] == "cACompromise"
