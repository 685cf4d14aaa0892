"""The one-item paths (Store.check_certificate, verify_login, verify_signed_document) give
exactly the batch functions' answers, case by case: good, revoked (every reason), expired,
not yet valid, wrong usage, stale and missing partitions, tampered and forged certificates,
untrusted issuers, the test hierarchy, older key generations, a CA key revoked by an authority
revocation list, bad signatures, and the real JPKI certificate."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from jpki_fast import ingest, open_store
from jpki_fast.certs import CertificateResult, VerificationResult
from conftest import FIXTURES, NOW, Workspace, days_ago, make_crl
from test_certs import FRESH, INGESTED_AT, REASONS, SIGN_REVOKED, STALE_REVOKED, TEST_CA_SLOT, ee_keys, issue, sign_crl, test_ca  # noqa: F401

R = x509.ReasonFlags
OLD_OWN_REVOKED = 0x4001  # on the 2019 key's own, older Sapporo-shi-Minami-ku CRL
LATER = NOW + dt.timedelta(days=10)  # every CRL is past its nextUpdate


@pytest.fixture(scope="module")
def store(tmp_path_factory, auth_ca, auth_ca_old, sign_ca, test_ca):  # noqa: F811
    """The PKI of test_certs.py, plus: the 2019 authentication key's own (older) CRL of the
    same partition and of Otaru-shi, and an authority revocation list revoking the test CA."""
    ws = Workspace(tmp_path_factory.mktemp("one"))
    ws.crls.mkdir(parents=True)
    for ca in (auth_ca, auth_ca_old, sign_ca, test_ca):
        ws.add_ca(ca)
    ws.write_crl("auth/sapporo.crl", make_crl(auth_ca, [(s, days_ago(10), r, None) for s, r in REASONS.items()], **FRESH))
    ws.write_crl(
        "auth/hakodate.crl",
        make_crl(auth_ca, [(STALE_REVOKED, days_ago(20), R.superseded, None)], partition="Hakodate-shi",
                 this_update=NOW - dt.timedelta(days=3), next_update=NOW - dt.timedelta(days=1)),
    )
    old = {"this_update": INGESTED_AT - dt.timedelta(hours=5), "next_update": NOW + dt.timedelta(days=4)}
    ws.write_crl("old/sapporo.crl", make_crl(auth_ca_old, [(OLD_OWN_REVOKED, days_ago(12), R.key_compromise, days_ago(13))], **old))
    ws.write_crl("old/otaru.crl", make_crl(auth_ca_old, [], partition="Otaru-shi", number=2, **old))
    ws.write_crl("sign/aomori.crl", sign_crl(sign_ca, [(SIGN_REVOKED, days_ago(5), R.affiliation_changed, None)]))
    ws.write_crl("test/test.crl", make_crl(test_ca, [], partition="Test-shi", **FRESH))
    ws.write_crl("test/arl.crl", make_crl(test_ca, [(TEST_CA_SLOT + 1, days_ago(3), R.ca_compromise, None)],
                                          partition=None, number=3, only_ca_certs=True, **FRESH))
    ingest(ws.trust, ws.crls, ws.store, now=INGESTED_AT)
    return open_store(ws.store)


def _sign(key, message: bytes) -> bytes:
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture(scope="module")
def certificates(auth_ca, auth_ca_old, sign_ca, stranger_ca, test_ca, ee_keys):  # noqa: F811
    """(name, certificate) pairs covering every status and path."""
    key = ee_keys[0]
    tampered = bytearray(issue(auth_ca, key, 0x30, subject_id="SYNTHETIC-SUBJECT-0001"))
    tampered[tampered.find(b"SYNTHETIC-SUBJECT-0001")] ^= 0x01
    good = issue(auth_ca, key, 0x10)
    cases = [
        ("good", good),
        ("good, PEM text", x509.load_der_x509_certificate(good).public_bytes(serialization.Encoding.PEM).decode()),
        ("good, a cryptography object", x509.load_der_x509_certificate(good)),
        *[(f"revoked {r}", issue(auth_ca, key, s)) for s, r in REASONS.items()],
        ("stale partition", issue(auth_ca, key, 0x60, partition="Hakodate-shi")),
        ("revoked on a stale CRL", issue(auth_ca, key, STALE_REVOKED, partition="Hakodate-shi")),
        ("missing partition", issue(auth_ca, key, 0x61, partition="Kushiro-shi")),
        ("no distribution point", issue(auth_ca, key, 0x62, partition=None)),
        ("expired", issue(auth_ca, key, 0x12, not_after=days_ago(1))),
        ("expired and revoked", issue(auth_ca, key, 0x1001, not_after=days_ago(1))),
        ("not yet valid", issue(auth_ca, key, 0x13, not_before=NOW + dt.timedelta(days=1))),
        ("signing certificate", issue(sign_ca, key, 0x70, kind="sign")),
        ("revoked signing certificate", issue(sign_ca, key, SIGN_REVOKED, kind="sign")),
        ("untrusted", issue(stranger_ca, key, 0x11)),
        ("untrusted without AKI", issue(stranger_ca, key, 0x41, authority_key_id=None)),
        ("tampered", bytes(tampered)),
        ("forged with a revoked serial", issue(auth_ca, key, 0x1004, signing_key=stranger_ca.key)),
        ("no AKI, found by name", issue(auth_ca, key, 0x42, authority_key_id=None)),
        ("older key generation", issue(auth_ca_old, key, 0x80)),
        ("older key, revoked on its own older CRL", issue(auth_ca_old, key, OLD_OWN_REVOKED)),
        ("older key, revoked on the newer key's CRL", issue(auth_ca_old, key, 0x1005)),
        ("older key, its own partition", issue(auth_ca_old, key, 0x81, partition="Otaru-shi")),
        ("test hierarchy, CA revoked by an ARL", issue(test_ca, key, 0x50, partition="Test-shi")),
        ("20-octet serial", issue(auth_ca, key, 2**158 + 7)),
        ("junk", b"junk"),
        ("empty", b""),
        ("real JPKI certificate", (FIXTURES / "auth_cert_sample.der").read_bytes()),
    ]
    return cases


def _same(one: CertificateResult, batch_row: dict) -> None:
    assert one.to_dict() == batch_row


@pytest.mark.parametrize(
    "now, purpose", [(NOW, None), (NOW, "login"), (NOW, "signature"), (LATER, "login"), (days_ago(1.5), None)]
)
def test_check_certificate_equals_the_batch_row(store, certificates, now, purpose):
    for name, cert in certificates:
        for allow_test in (False, True):
            for provenance in (False, True):
                options = {"allow_test_hierarchy": allow_test, "provenance": provenance}
                one = store.check_certificate(cert, now=now, purpose=purpose, **options)
                batch = store.check_certificates([cert], now=now, purpose=purpose, **options).to_pylist()[0]
                assert one.to_dict() == batch, (name, allow_test, provenance)


def test_the_cases_cover_every_status(store, certificates):
    seen = {store.check_certificate(c, now=now, purpose="login", allow_test_hierarchy=True).status
            for _, c in certificates for now in (NOW, LATER)}
    assert seen >= {"good", "revoked", "stale", "expired", "not_yet_valid", "wrong_usage", "untrusted", "bad_signature", "malformed"}


@pytest.mark.parametrize("now", [NOW, LATER])
def test_verify_login_equals_the_batch_row(store, certificates, ee_keys, now):  # noqa: F811
    challenge = b"server nonce 0123456789abcdef"
    signatures = {
        "valid": _sign(ee_keys[0], challenge),
        "over another challenge": _sign(ee_keys[0], challenge + b"x"),
        "by another key": _sign(ee_keys[1], challenge),
        "truncated": _sign(ee_keys[0], challenge)[:-1],
        "empty": b"",
    }
    allowed = 0
    for name, cert in certificates:
        for which, signature in signatures.items():
            for provenance in (False, True):
                one = store.verify_login(cert, challenge, signature, now=now, provenance=provenance)
                batch = store.verify_logins([cert], [challenge], [signature], now=now, provenance=provenance).to_pylist()[0]
                assert isinstance(one, VerificationResult)
                assert one.to_dict() == batch, (name, which, provenance)
                assert one.allowed == (batch["decision"] == "allow")
                allowed += one.allowed
    assert (allowed > 0) == (now == NOW)  # later, every CRL is past its nextUpdate: nothing is allowed


def test_verify_signed_document_equals_the_batch_row(store, certificates, ee_keys):  # noqa: F811
    document = "口座開設申込書".encode()
    signature = _sign(ee_keys[0], document)
    digest = hashlib.sha256(document).digest()
    decisions = []
    for name, cert in certificates:
        for sig in (signature, b"\x00" * 256):
            one = store.verify_signed_document(cert, document, sig, now=NOW)
            batch = store.verify_signed_documents([cert], [document], [sig], now=NOW).to_pylist()[0]
            assert one.to_dict() == batch, name
            by_digest = store.verify_signed_document(cert, signature=sig, digest=digest, now=NOW)
            assert by_digest.to_dict() == store.verify_signed_documents([cert], signatures=[sig], digests=[digest], now=NOW).to_pylist()[0]
            decisions.append(one.decision)
    assert "allow" in decisions and "deny" in decisions


def test_bad_arguments_are_refused_like_the_batch(store, certificates, ee_keys):  # noqa: F811
    cert = certificates[0][1]
    with pytest.raises(ValueError, match="purpose"):
        store.check_certificate(cert, purpose="banking")
    with pytest.raises(ValueError, match="signature: required"):
        store.verify_login(cert, b"challenge", None)
    with pytest.raises(ValueError, match="challenge: required"):
        store.verify_login(cert, None, b"sig")
    with pytest.raises(ValueError, match="not both"):
        store.verify_signed_document(cert, b"doc", b"sig", digest=b"\x00" * 32)
    with pytest.raises(ValueError, match="digest of 3 bytes"):
        store.verify_signed_document(cert, signature=b"sig", digest=b"abc")
    with pytest.raises(ValueError, match="hash"):
        store.verify_login(cert, b"challenge", b"sig", hash="md5")
    with pytest.raises(TypeError, match="expected bytes"):
        store.check_certificate([cert])


def test_results_do_not_show_the_serial(store, certificates):
    r = store.check_certificate(certificates[0][1], now=NOW)
    assert r.serial == "10" and "serial" not in repr(r)


def test_the_fixture_exercises_the_cross_key_and_arl_paths(store, certificates):
    by_name = dict(certificates)
    status = {name: store.check_certificate(by_name[name], now=NOW, allow_test_hierarchy=True).status for name in by_name}
    assert status["older key, revoked on its own older CRL"] == "revoked"
    assert status["older key, revoked on the newer key's CRL"] == "revoked"
    assert status["older key generation"] == "good"
    assert status["test hierarchy, CA revoked by an ARL"] == "revoked"
    assert status["revoked on a stale CRL"] == "revoked" and status["stale partition"] == "stale"


def test_synthetic_logins_equal_the_batch(tmp_path):
    """`jpki-fast synth` certificates (authentication and signing, a share of them revoked)
    and their card keys: valid, forged and tampered logins, one at a time against the batch,
    both as one-row calls and as rows of one large call, when fresh and when every CRL is past
    its nextUpdate."""
    from jpki_fast import synth
    from conftest import NOW_ISO

    data = tmp_path / "data"
    synth.generate(data, entries=4000, partitions=8, now=NOW_ISO, certs=24, cert_keys=3, seed=11)
    ingest(data / "trust", data / "crls", tmp_path / "store", now=NOW)
    store = open_store(tmp_path / "store")
    index = synth.read_certs(data).to_pylist()
    keys = {p: serialization.load_pem_private_key((data / p).read_bytes(), None) for p in {c["key_path"] for c in index}}
    rows = []
    for i, c in enumerate(index):
        der = (data / c["path"]).read_bytes()
        challenge = f"challenge {i}".encode()
        signature = _sign(keys[c["key_path"]], challenge)
        other_key = keys[index[(i + 1) % len(index)]["key_path"]]
        tampered = bytearray(der)
        tampered[len(der) // 2] ^= 0x01
        rows += [
            (c, "valid", der, challenge, signature),
            (c, "over another challenge", der, challenge, _sign(keys[c["key_path"]], challenge + b"!")),
            (c, "by another key", der, challenge, _sign(other_key, challenge)),
            (c, "tampered certificate", bytes(tampered), challenge, signature),
        ]
    assert any(c["revoked"] for c, *_ in rows) and not all(c["revoked"] for c, *_ in rows)
    for now in (NOW, LATER):
        batch = store.verify_logins([r[2] for r in rows], [r[3] for r in rows], [r[4] for r in rows], now=now).to_pylist()
        for (c, case, der, challenge, signature), big_row in zip(rows, batch):
            one = store.verify_login(der, challenge, signature, now=now)
            assert one.to_dict() == big_row, (c["path"], case, now)
            assert one.to_dict() == store.verify_logins([der], [challenge], [signature], now=now).to_pylist()[0]
            assert store.check_certificate(der, now=now).to_dict() == store.check_certificates([der], now=now).to_pylist()[0]
            if case == "valid" and now == NOW:
                assert one.serial == c["serial"] and one.issuer == c["issuer"]
                want = "revoked" if c["revoked"] else ("good" if c["kind"] == "auth" else "wrong_usage")
                assert (one.status, one.decision) == (want, "allow" if want == "good" else "deny"), c["path"]
                assert one.reason == c["reason"]
            if case == "tampered certificate":
                assert one.decision == "deny" and one.status in ("bad_signature", "malformed")
            if case != "valid":
                assert one.decision == "deny"
