"""Logins and signed documents: allow only a valid signature by a good certificate of the right
kind (Store.verify_logins, Store.verify_signed_documents), and the synthetic dataset end to end."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pyarrow as pa
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from jpki_fast import ingest, open_store, synth
from conftest import NOW, NOW_ISO, days_ago
from test_certs import SIGN_REVOKED, ee_keys, issue, pki, test_ca  # noqa: F401 (fixtures)


def sign(key, message: bytes, algorithm=hashes.SHA256) -> bytes:
    return key.sign(message, padding.PKCS1v15(), algorithm())


def decisions(table: pa.Table) -> list[str]:
    return table.column("decision").to_pylist()


def test_allow_only_a_valid_signature_by_a_good_certificate(pki, auth_ca, sign_ca, stranger_ca, ee_keys):
    key, other = ee_keys[0], ee_keys[1]
    good = issue(auth_ca, key, 0x10)
    challenge = os.urandom(32)
    rows = [
        (good, challenge, sign(key, challenge)),  # allow
        (good, challenge, sign(key, challenge + b"x")),  # signature over another challenge
        (good, challenge, bytes([sign(key, challenge)[0] ^ 1]) + sign(key, challenge)[1:]),  # tampered signature
        (good, challenge, sign(other, challenge)),  # signed by another key
        (issue(auth_ca, key, 0x1004), challenge, sign(key, challenge)),  # revoked
        (issue(auth_ca, key, 0x60, partition="Hakodate-shi"), challenge, sign(key, challenge)),  # stale
        (issue(sign_ca, key, 0x70, kind="sign"), challenge, sign(key, challenge)),  # signing certificate
        (issue(stranger_ca, key, 0x11), challenge, sign(key, challenge)),  # untrusted
        (issue(auth_ca, key, 0x12, not_after=days_ago(1)), challenge, sign(key, challenge)),  # expired
        (b"junk", challenge, sign(key, challenge)),  # malformed
        (good, challenge, None),  # no signature
    ]
    out = pki.verify_logins([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], now=NOW)
    assert decisions(out) == ["allow"] + ["deny"] * (len(rows) - 1)
    assert out.column("signature_valid").to_pylist() == [True, False, False, False, True, True, True, True, True, False, False]
    assert out.column("status").to_pylist() == [
        "good", "good", "good", "good", "revoked", "stale", "wrong_usage", "untrusted", "expired", "malformed", "good",
    ]
    details = out.column("detail").to_pylist()
    assert details[0] is None
    assert "signature over the challenge does not verify" in details[1]
    assert out.column_names[:3] == ["decision", "signature_valid", "status"]
    assert out.column("reason").to_pylist()[4] == "superseded"


def test_tampered_challenge_signature_is_denied_by_each_byte(pki, auth_ca, ee_keys):
    key = ee_keys[0]
    der = issue(auth_ca, key, 0x10)
    challenge = b"server nonce 0123456789abcdef"
    signature = sign(key, challenge)
    tampered = [signature[:i] + bytes([signature[i] ^ 0x80]) + signature[i + 1:] for i in range(0, len(signature), 17)]
    out = pki.verify_logins([der] * (len(tampered) + 1), [challenge] * (len(tampered) + 1), [signature] + tampered, now=NOW)
    assert decisions(out) == ["allow"] + ["deny"] * len(tampered)


def test_other_hashes(pki, auth_ca, ee_keys):
    key = ee_keys[0]
    der = issue(auth_ca, key, 0x10)
    out = pki.verify_logins([der, der], [b"a", b"b"], [sign(key, b"a", hashes.SHA384), sign(key, b"b")], now=NOW, hash="sha384")
    assert decisions(out) == ["allow", "deny"]


def test_length_mismatch_and_bad_input(pki, auth_ca, ee_keys):
    der = issue(auth_ca, ee_keys[0], 0x10)
    with pytest.raises(ValueError, match="length mismatch: 2 certificates, 1 challenges, 2 signatures"):
        pki.verify_logins([der, der], [b"c"], [b"s", b"s"], now=NOW)
    with pytest.raises(ValueError, match="length mismatch"):
        pki.verify_signed_documents([der], [b"d", b"e"], [b"s"], now=NOW)
    with pytest.raises(ValueError, match="signatures: required"):
        pki.verify_signed_documents([der], [b"d"], now=NOW)
    with pytest.raises(ValueError, match="documents: required"):
        pki.verify_signed_documents([der], signatures=[b"s"], now=NOW)
    with pytest.raises(ValueError, match="not both"):
        pki.verify_signed_documents([der], [b"d"], [b"s"], digests=[b"x" * 32], now=NOW)
    with pytest.raises(TypeError, match="challenge #0: expected bytes"):
        pki.verify_logins([der], [12345], [b"s"], now=NOW)
    with pytest.raises(ValueError, match='hash "md2"'):
        pki.verify_logins([der], [b"c"], [b"s"], now=NOW, hash="md2")
    out = pki.verify_logins([None, b""], [None, b"c"], [b"s", b""], now=NOW)
    assert decisions(out) == ["deny", "deny"]
    assert out.column("status").to_pylist() == ["malformed", "malformed"]
    assert pki.verify_logins([], [], [], now=NOW).num_rows == 0


def test_signed_documents(pki, auth_ca, sign_ca, ee_keys):
    key = ee_keys[1]
    document = b"%PDF-1.7 application for an account" * 100
    good = issue(sign_ca, key, 0x70, kind="sign")
    revoked = issue(sign_ca, key, SIGN_REVOKED, kind="sign")
    auth = issue(auth_ca, key, 0x10)  # an authentication certificate may not sign documents
    sig = sign(key, document)
    out = pki.verify_signed_documents([good, revoked, auth, good], [document] * 3 + [document + b"."], [sig] * 4, now=NOW)
    assert decisions(out) == ["allow", "deny", "deny", "deny"]
    assert out.column("status").to_pylist() == ["good", "revoked", "wrong_usage", "good"]
    assert "signature over the document" in out.column("detail")[3].as_py()
    digest = hashlib.sha256(document).digest()
    by_digest = pki.verify_signed_documents([good, good], signatures=[sig, sig], digests=[digest, hashlib.sha256(b"x").digest()], now=NOW)
    assert decisions(by_digest) == ["allow", "deny"]


def test_batch_of_logins_equals_one_by_one(pki, auth_ca, auth_ca_old, ee_keys):
    keys = ee_keys
    certs = [issue(auth_ca, keys[0], 0x10), issue(auth_ca_old, keys[1], 0x11), issue(auth_ca, keys[2], 0x1001)]
    rows = []
    for i in range(60):
        c = i % 3
        challenge = os.urandom(16)
        signature = sign(keys[c], challenge if i % 5 else challenge + b"?")
        rows.append((certs[c], challenge, signature))
    batch = pki.verify_logins(*zip(*rows), now=NOW).to_pylist()
    for row, got in zip(rows[:6], batch[:6]):
        assert pki.verify_logins([row[0]], [row[1]], [row[2]], now=NOW).to_pylist()[0] == got
    want = ["deny" if i % 5 == 0 or i % 3 == 2 else "allow" for i in range(60)]
    assert [r["decision"] for r in batch] == want


def test_synthetic_dataset_end_to_end(tmp_path):
    """synth's certificates and keys log in and sign against a store ingested from its CRLs:
    allowed exactly when the certificate is not revoked."""
    out = tmp_path / "data"
    synth.generate(out, entries=2000, partitions=4, now=NOW_ISO, certs=12, cert_keys=3, seed=11)
    ingest(out / "trust", out / "crls", tmp_path / "store", now=NOW)
    store = open_store(tmp_path / "store")
    index = synth.read_certs(out).to_pylist()
    keys = {p: serialization.load_pem_private_key((out / p).read_bytes(), None) for p in {r["key_path"] for r in index}}
    for kind, verify in (("auth", store.verify_logins), ("sign", store.verify_signed_documents)):
        rows = [r for r in index if r["kind"] == kind]
        certs = [(out / r["path"]).read_bytes() for r in rows]
        messages = [os.urandom(32) for _ in rows]
        signatures = [sign(keys[r["key_path"]], m) for r, m in zip(rows, messages)]
        result = verify(certs, messages, signatures, now=NOW)
        assert decisions(result) == ["deny" if r["revoked"] else "allow" for r in rows]
        assert result.column("signature_valid").to_pylist() == [True] * len(rows)
        assert np.array_equal(result.column("status").to_pylist(), ["revoked" if r["revoked"] else "good" for r in rows])
