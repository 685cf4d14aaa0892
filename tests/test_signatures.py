"""Bulk RSA verification (jpki_fast.verify_signatures) gives pyca/cryptography's answer on the
same inputs: valid and invalid signatures mixed, every hash, PKCS#1 v1.5 and PSS, over messages
and over digests, with keys in every accepted form."""

from __future__ import annotations

import datetime as dt
import hashlib
import random

import numpy as np
import pyarrow as pa
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, utils

import jpki_fast
from jpki_fast import _core, synth
from conftest import NOW

HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


@pytest.fixture(scope="module")
def keys():
    """Three RSA keys: two of 2048 bits, one of 3072 (made in Rust, used through pyca)."""
    pairs = _core.generate_rsa_keys(2) + _core.generate_rsa_keys(1, bits=3072)
    return [serialization.load_der_private_key(pkcs8, None) for pkcs8, _ in pairs]


def pyca_padding(kind: str, hash_name: str):
    if kind == "pss":
        return padding.PSS(mgf=padding.MGF1(HASHES[hash_name]()), salt_length=HASHES[hash_name].digest_size)
    return padding.PKCS1v15()


def pyca_verify(public_key, signature, message, hash_name, kind, prehashed=False) -> bool:
    if signature is None or message is None:
        return False
    algorithm = utils.Prehashed(HASHES[hash_name]()) if prehashed else HASHES[hash_name]()
    try:
        public_key.verify(signature, message, pyca_padding(kind, hash_name), algorithm)
        return True
    except (InvalidSignature, ValueError):
        return False


def mixed_rows(keys, hash_name: str, kind: str, n: int = 120, seed: int = 1):
    """Rows of (key index, message, signature): valid ones and every kind of invalid one."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        k = rng.randrange(len(keys))
        message = rng.randbytes(rng.randrange(0, 200))
        signature = keys[k].sign(message, pyca_padding(kind, hash_name), HASHES[hash_name]())
        case = i % 8
        if case == 1:  # one bit of the signature flipped
            s = bytearray(signature)
            s[rng.randrange(len(s))] ^= 1 << rng.randrange(8)
            signature = bytes(s)
        elif case == 2:  # another message
            message = message + b"!"
        elif case == 3:  # another key
            k = (k + 1) % len(keys)
        elif case == 4:  # truncated signature
            signature = signature[:-1]
        elif case == 5:  # empty signature
            signature = b""
        elif case == 6:  # missing signature
            signature = None
        rows.append((k, message, signature))
    return rows


@pytest.mark.parametrize(
    "hash_name, kind",
    [("sha1", "pkcs1v15"), ("sha256", "pkcs1v15"), ("sha384", "pkcs1v15"), ("sha512", "pkcs1v15"),
     ("sha256", "pss"), ("sha384", "pss"), ("sha512", "pss")],
)
def test_equals_pyca_over_messages_and_digests(keys, hash_name, kind):
    rows = mixed_rows(keys, hash_name, kind)
    spkis = [k.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) for k in keys]
    key_col = [spkis[k] for k, _, _ in rows]
    messages = [m for _, m, _ in rows]
    signatures = [s for _, _, s in rows]
    want = [pyca_verify(keys[k].public_key(), s, m, hash_name, kind) for k, m, s in rows]
    assert 0 < sum(want) < len(want)
    got = jpki_fast.verify_signatures(key_col, messages, signatures, hash=hash_name, padding=kind)
    assert got.dtype == np.bool_ and got.tolist() == want
    digests = [hashlib.new(hash_name, m).digest() for m in messages]
    want_prehashed = [pyca_verify(keys[k].public_key(), s, d, hash_name, kind, prehashed=True) for (k, _, s), d in zip(rows, digests)]
    assert want_prehashed == want
    got = jpki_fast.verify_signatures(key_col, signatures=signatures, digests=digests, hash=hash_name, padding=kind)
    assert got.tolist() == want


def test_every_key_form_gives_the_same_answers(keys, auth_ca):
    key = keys[0]
    public = key.public_key()
    cert = x509.load_der_x509_certificate(
        synth.issue_certificate("auth", auth_ca.key, auth_ca.cert, public, 0x77, None, NOW, NOW + dt.timedelta(days=9))
    )
    forms = [
        public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1),
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        cert.public_bytes(serialization.Encoding.DER),
        cert.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.PEM).decode(),
        public,
        cert,
    ]
    rows = mixed_rows([key], "sha256", "pkcs1v15", n=16)
    messages, signatures = [m for _, m, _ in rows], [s for _, _, s in rows]
    want = [pyca_verify(public, s, m, "sha256", "pkcs1v15") for _, m, s in rows]
    for form in forms:
        assert jpki_fast.verify_signatures(form, messages, signatures).tolist() == want  # one key for all rows
        assert jpki_fast.verify_signatures([form] * len(rows), messages, signatures).tolist() == want


def test_arrow_and_numpy_inputs(keys):
    key = keys[1]
    rows = mixed_rows([key], "sha256", "pkcs1v15", n=24)
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    messages = pa.array([m for _, m, _ in rows], pa.large_binary())
    signatures = pa.chunked_array([pa.array([s for _, _, s in rows[:10]]), pa.array([s for _, _, s in rows[10:]])])
    want = [pyca_verify(key.public_key(), s, m, "sha256", "pkcs1v15") for _, m, s in rows]
    assert jpki_fast.verify_signatures(pa.array([spki]), messages, signatures).tolist() == want
    digests = np.frombuffer(b"".join(hashlib.sha256(m).digest() for _, m, _ in rows), np.uint8).reshape(-1, 32)
    assert jpki_fast.verify_signatures(spki, signatures=signatures, digests=digests).tolist() == want
    assert jpki_fast.verify_signatures(spki, messages.slice(5), signatures.slice(5)).tolist() == want[5:]
    assert jpki_fast.verify_signatures(spki, [], []).tolist() == []


def test_many_rows_over_all_cores_keep_their_order(keys):
    key = keys[0]
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    base = [(m, key.sign(m, padding.PKCS1v15(), hashes.SHA256())) for m in (b"a", b"b", b"c")]
    messages = [base[i % 3][0] for i in range(3000)]
    signatures = [base[i % 3][1] if i % 7 else base[(i + 1) % 3][1] for i in range(3000)]
    got = jpki_fast.verify_signatures(spki, messages, signatures)
    assert got.tolist() == [bool(i % 7) for i in range(3000)]


def test_bad_input_is_a_clear_error(keys):
    spki = keys[0].public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    sig = keys[0].sign(b"m", padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(ValueError, match="row #1: public key"):
        jpki_fast.verify_signatures([spki, b"garbage"], [b"m", b"m"], [sig, sig])
    with pytest.raises(ValueError, match="length mismatch: 2 signatures, 1 messages"):
        jpki_fast.verify_signatures(spki, [b"m"], [sig, sig])
    with pytest.raises(ValueError, match="length mismatch: 3 keys for 2 signatures"):
        jpki_fast.verify_signatures([spki] * 3, [b"m", b"m"], [sig, sig])
    with pytest.raises(ValueError, match="row #0: digest of 3 bytes; sha256 digests are 32 bytes"):
        jpki_fast.verify_signatures(spki, signatures=[sig], digests=[b"abc"])
    with pytest.raises(ValueError, match="exactly one"):
        jpki_fast.verify_signatures(spki, [b"m"], [sig], digests=[b"x" * 32])
    with pytest.raises(ValueError, match="signatures: required"):
        jpki_fast.verify_signatures(spki, [b"m"])
    with pytest.raises(ValueError, match='hash "md5"' ):
        jpki_fast.verify_signatures(spki, [b"m"], [sig], hash="md5")
    with pytest.raises(ValueError, match="PSS needs SHA-256"):
        jpki_fast.verify_signatures(spki, [b"m"], [sig], hash="sha1", padding="pss")
    with pytest.raises(ValueError, match='padding "oaep"' ):
        jpki_fast.verify_signatures(spki, [b"m"], [sig], padding="oaep")
    with pytest.raises(ValueError, match="key #0: missing"):
        jpki_fast.verify_signatures([None], [b"m"], [sig])
    with pytest.raises(TypeError, match="signature #0: expected bytes"):
        jpki_fast.verify_signatures(spki, [b"m"], [3.5])
    with pytest.raises(ValueError, match="row #0: public key"):  # an EC key is not RSA
        from cryptography.hazmat.primitives.asymmetric import ec

        ec_spki = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        jpki_fast.verify_signatures(ec_spki, [b"m"], [sig])


def test_sign_messages_agrees_with_pyca(keys):
    pkcs8 = [k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
             for k in keys[:2]]
    messages = pa.array([b"x", b"y", b"z"])
    from jpki_fast.certs import _buffers

    sigs = _core.sign_messages(pkcs8, [0, 1, 0], _buffers(messages))
    for k, m, s in zip([0, 1, 0], messages.to_pylist(), sigs):
        keys[k].public_key().verify(s, m, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(ValueError, match="private key #0"):
        _core.sign_messages([b"junk"], [0], _buffers(pa.array([b"m"])))
